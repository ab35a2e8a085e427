/* Realistic SDP bodies shared by the relay tests. */
#ifndef SBC_TEST_SDP_SAMPLES_H
#define SBC_TEST_SDP_SAMPLES_H

#define KEY_T1 "XaxeQiPAGkjo3zZbEFJqHEjKYkKflc97xfsjkXYF"
#define KEY_T2 "3wDpoyMrYmaiodDoSv/vaDOeAjJiFmze0A+8WcMM"
#define KEY_C1 "ytxYuPqaZZ41CkrxqxK2IQ6m5Jn0/s1LLdka1DTN"

/* A Teams Media Processor offer (non-bypass): ICE, rtcp-mux, two crypto
 * lines (the first with MKI), SILK/G.722/G.711/G.729, CN, a video line. */
#define TEAMS_OFFER_FMT(addr, port, key)                                                     \
    "v=0\r\n"                                                                                \
    "o=- 7 2 IN IP4 " addr "\r\n"                                                            \
    "s=session\r\n"                                                                          \
    "c=IN IP4 " addr "\r\n"                                                                  \
    "b=CT:10000000\r\n"                                                                      \
    "t=0 0\r\n"                                                                              \
    "a=ice-lite\r\n"                                                                         \
    "m=audio " port " RTP/SAVP 104 9 103 111 18 0 8 97 101 13 118\r\n"                       \
    "c=IN IP4 " addr "\r\n"                                                                  \
    "a=rtcp:" port "\r\n"                                                                    \
    "a=ice-ufrag:Dx5B\r\n"                                                                   \
    "a=ice-pwd:Y2y3zAHPjCw9ENTEtFXLuzZu\r\n"                                                 \
    "a=rtcp-mux\r\n"                                                                         \
    "a=candidate:1 1 UDP 2130706431 " addr " " port " typ host\r\n"                          \
    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEY_T2 "|2^31|1:1\r\n"                      \
    "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" key "|2^31\r\n"                             \
    "a=maxptime:200\r\n"                                                                     \
    "a=rtpmap:104 SILK/16000\r\n"                                                            \
    "a=rtpmap:9 G722/8000\r\n"                                                               \
    "a=rtpmap:103 SILK/8000\r\n"                                                             \
    "a=rtpmap:111 SIREN/16000\r\n"                                                           \
    "a=fmtp:111 bitrate=16000\r\n"                                                           \
    "a=rtpmap:18 G729/8000\r\n"                                                              \
    "a=fmtp:18 annexb=no\r\n"                                                                \
    "a=rtpmap:0 PCMU/8000\r\n"                                                               \
    "a=rtpmap:8 PCMA/8000\r\n"                                                               \
    "a=rtpmap:97 RED/8000\r\n"                                                               \
    "a=rtpmap:101 telephone-event/8000\r\n"                                                  \
    "a=fmtp:101 0-16\r\n"                                                                    \
    "a=rtpmap:13 CN/8000\r\n"                                                                \
    "a=rtpmap:118 CN/16000\r\n"                                                              \
    "a=ptime:20\r\n"                                                                         \
    "m=video 50020 RTP/SAVP 122 121\r\n"                                                     \
    "a=rtcp-mux\r\n"                                                                         \
    "a=rtpmap:122 X-H264UC/90000\r\n"                                                        \
    "a=rtpmap:121 x-rtvc1/90000\r\n"

#define TEAMS_OFFER TEAMS_OFFER_FMT("52.114.16.74", "52884", KEY_T1)

/* A softswitch answer to an RTP/AVP offer with two m-lines. */
#define CARRIER_ANSWER_FMT(addr, port, dir)                                                  \
    "v=0\r\n"                                                                                \
    "o=MetaSwitch 6789 1 IN IP4 10.0.1.5\r\n"                                                \
    "s=-\r\n"                                                                                \
    "c=IN IP4 " addr "\r\n"                                                                  \
    "t=0 0\r\n"                                                                              \
    "m=audio " port " RTP/AVP 0 101\r\n"                                                     \
    "a=rtpmap:0 PCMU/8000\r\n"                                                               \
    "a=rtpmap:101 telephone-event/8000\r\n"                                                  \
    "a=fmtp:101 0-15\r\n"                                                                    \
    "a=ptime:20\r\n"                                                                         \
    "a=" dir "\r\n"                                                                          \
    "m=video 0 RTP/AVP 122\r\n"

/* A carrier offer: plain RTP, RTCP on port + 1, G.711 and G.729. */
#define CARRIER_OFFER_FMT(addr, port, extra)                                                 \
    "v=0\r\n"                                                                                \
    "o=MetaSwitch 1234 1 IN IP4 10.0.1.5\r\n"                                                \
    "s=-\r\n"                                                                                \
    "c=IN IP4 " addr "\r\n"                                                                  \
    "t=0 0\r\n"                                                                              \
    "m=audio " port " RTP/AVP 8 0 18 101\r\n"                                                \
    "a=rtpmap:8 PCMA/8000\r\n"                                                               \
    "a=rtpmap:0 PCMU/8000\r\n"                                                               \
    "a=rtpmap:18 G729/8000\r\n"                                                              \
    "a=fmtp:18 annexb=no\r\n"                                                                \
    "a=rtpmap:101 telephone-event/8000\r\n"                                                  \
    "a=fmtp:101 0-15\r\n"                                                                    \
    "a=ptime:20\r\n" extra

/* A Teams answer to our RTP/SAVP offer. */
#define TEAMS_ANSWER_FMT(addr, port, key, dir)                                               \
    "v=0\r\n"                                                                                \
    "o=- 8 2 IN IP4 " addr "\r\n"                                                            \
    "s=session\r\n"                                                                          \
    "c=IN IP4 " addr "\r\n"                                                                  \
    "b=CT:10000000\r\n"                                                                      \
    "t=0 0\r\n"                                                                              \
    "m=audio " port " RTP/SAVP 8 101\r\n"                                                    \
    "c=IN IP4 " addr "\r\n"                                                                  \
    "a=rtcp:" port "\r\n"                                                                    \
    "a=ice-ufrag:Tq2a\r\n"                                                                   \
    "a=ice-pwd:u1MvS4mX0nrD1zkqJZkC2pQw\r\n"                                                 \
    "a=rtcp-mux\r\n"                                                                         \
    "a=candidate:1 1 UDP 2130706431 " addr " " port " typ host\r\n"                          \
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" key "|2^31\r\n"                             \
    "a=rtpmap:8 PCMA/8000\r\n"                                                               \
    "a=rtpmap:101 telephone-event/8000\r\n"                                                  \
    "a=fmtp:101 0-16\r\n"                                                                    \
    "a=ptime:20\r\n"                                                                         \
    "a=" dir "\r\n"

#endif
