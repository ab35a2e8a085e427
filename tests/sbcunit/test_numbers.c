/* Number normalization per trunk format (CONFIG.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sbc/numbers.h"

static sbc_trunk_t trunk(enum sbc_numfmt to, enum sbc_numfmt from, const char *cc)
{
    sbc_trunk_t t;
    memset(&t, 0, sizeof t);
    t.to_trunk = to;
    t.from_trunk = from;
    strcpy(t.country_code, cc);
    return t;
}

static void test_from_trunk(void **state)
{
    char out[32];
    sbc_trunk_t nat = trunk(SBC_NUM_NATIONAL, SBC_NUM_NATIONAL, "1");
    assert_int_equal(sbc_numbers_from_trunk(&nat, "5551230000", out, sizeof out), 0);
    assert_string_equal(out, "+15551230000");
    /* a '+' number on a national trunk is unambiguous */
    assert_int_equal(sbc_numbers_from_trunk(&nat, "+445551230000", out, sizeof out), 0);
    assert_string_equal(out, "+445551230000");
    /* visual separators are dropped */
    assert_int_equal(sbc_numbers_from_trunk(&nat, "(555) 123-0000", out, sizeof out), 0);
    assert_string_equal(out, "+15551230000");

    sbc_trunk_t intl = trunk(SBC_NUM_INTERNATIONAL, SBC_NUM_INTERNATIONAL, "1");
    assert_int_equal(sbc_numbers_from_trunk(&intl, "15551230000", out, sizeof out), 0);
    assert_string_equal(out, "+15551230000");

    sbc_trunk_t e164 = trunk(SBC_NUM_E164, SBC_NUM_E164, "1");
    assert_int_equal(sbc_numbers_from_trunk(&e164, "+15551230000", out, sizeof out), 0);
    assert_string_equal(out, "+15551230000");
    /* no '+' on an e164 trunk: ambiguous, refused (484) */
    assert_int_equal(sbc_numbers_from_trunk(&e164, "15551230000", out, sizeof out), -1);
}

static void test_from_trunk_rejects(void **state)
{
    char out[32];
    sbc_trunk_t nat = trunk(SBC_NUM_NATIONAL, SBC_NUM_NATIONAL, "1");
    assert_int_equal(sbc_numbers_from_trunk(&nat, "alice", out, sizeof out), -1);
    assert_int_equal(sbc_numbers_from_trunk(&nat, "", out, sizeof out), -1);
    assert_int_equal(sbc_numbers_from_trunk(&nat, "555*123", out, sizeof out), -1);
    /* 16 digits after the country code is past E.164's 15 */
    assert_int_equal(sbc_numbers_from_trunk(&nat, "555123000011111", out, sizeof out), -1);
    assert_int_equal(sbc_numbers_from_trunk(&nat, "5551230000", out, 8), -1);
}

static void test_to_trunk(void **state)
{
    char out[32];
    sbc_trunk_t nat = trunk(SBC_NUM_NATIONAL, SBC_NUM_NATIONAL, "1");
    assert_int_equal(sbc_numbers_to_trunk(&nat, "+15551230000", out, sizeof out), 0);
    assert_string_equal(out, "5551230000");
    /* a foreign number keeps its '+' rather than becoming ambiguous */
    assert_int_equal(sbc_numbers_to_trunk(&nat, "+445551230000", out, sizeof out), 0);
    assert_string_equal(out, "+445551230000");
    sbc_trunk_t intl = trunk(SBC_NUM_INTERNATIONAL, SBC_NUM_INTERNATIONAL, "1");
    assert_int_equal(sbc_numbers_to_trunk(&intl, "+15551230000", out, sizeof out), 0);
    assert_string_equal(out, "15551230000");
    sbc_trunk_t e164 = trunk(SBC_NUM_E164, SBC_NUM_E164, "1");
    assert_int_equal(sbc_numbers_to_trunk(&e164, "15551230000", out, sizeof out), 0);
    assert_string_equal(out, "+15551230000");
    assert_int_equal(sbc_numbers_to_trunk(&e164, "+1555x", out, sizeof out), -1);
}

static void test_is_e164(void **state)
{
    assert_true(sbc_numbers_is_e164("+1"));
    assert_true(sbc_numbers_is_e164("+123456789012345"));
    assert_false(sbc_numbers_is_e164("+1234567890123456"));
    assert_false(sbc_numbers_is_e164("15551230000"));
    assert_false(sbc_numbers_is_e164("+"));
    assert_false(sbc_numbers_is_e164(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_trunk),
        cmocka_unit_test(test_from_trunk_rejects),
        cmocka_unit_test(test_to_trunk),
        cmocka_unit_test(test_is_e164),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
