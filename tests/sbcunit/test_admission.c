/* Call admission: concurrent-call caps, calls per second, shared by threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sbc/admission.h"

static void test_max_calls(void **state)
{
    sbc_adm_slot_t *s = sbc_admission_slot("tenant", "max-calls");
    assert_non_null(s);
    assert_ptr_equal(s, sbc_admission_slot("tenant", "max-calls"));
    assert_ptr_not_equal(s, sbc_admission_slot("trunk", "max-calls"));
    for (int i = 0; i < 3; i++)
        assert_int_equal(sbc_admission_try(s, 3, 0, 100), SBC_ADM_OK);
    assert_int_equal(sbc_admission_try(s, 3, 0, 100), SBC_ADM_MAX_CALLS);
    assert_int_equal(sbc_admission_calls(s), 3);
    sbc_admission_release(s);
    assert_int_equal(sbc_admission_try(s, 3, 0, 100), SBC_ADM_OK);
    for (int i = 0; i < 3; i++)
        sbc_admission_release(s);
    assert_int_equal(sbc_admission_calls(s), 0);
}

static void test_max_cps(void **state)
{
    sbc_adm_slot_t *s = sbc_admission_slot("trunk", "cps");
    for (int i = 0; i < 5; i++)
        assert_int_equal(sbc_admission_try(s, 0, 5, 1000), SBC_ADM_OK);
    assert_int_equal(sbc_admission_try(s, 0, 5, 1000), SBC_ADM_MAX_CPS);
    /* a refused attempt does not hold a call */
    assert_int_equal(sbc_admission_calls(s), 5);
    /* the next second opens a new window */
    assert_int_equal(sbc_admission_try(s, 0, 5, 1001), SBC_ADM_OK);
}

static void *hammer(void *arg)
{
    sbc_adm_slot_t *s = arg;
    for (int i = 0; i < 100000; i++) {
        if (sbc_admission_try(s, 50, 0, 7) == SBC_ADM_OK)
            sbc_admission_release(s);
    }
    return NULL;
}

/* Two threads admitting and releasing never leave a count behind. */
static void test_threads(void **state)
{
    sbc_adm_slot_t *s = sbc_admission_slot("tenant", "threads");
    pthread_t a, b;
    pthread_create(&a, NULL, hammer, s);
    pthread_create(&b, NULL, hammer, s);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    assert_int_equal(sbc_admission_calls(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_calls),
        cmocka_unit_test(test_max_cps),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
