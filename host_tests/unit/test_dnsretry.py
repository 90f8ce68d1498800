"""providers.dnsretry: nspm's retry and rotation schedule, fed timeouts and answers (no sockets, no clock)."""
from providers import dnsmsg
from providers.dnsretry import MIN_TRY_MS, Schedule
from ws2.errors import WSANO_RECOVERY, WSATRY_AGAIN


def _run(plan, step):
    # Drive plan: step(server, elapsed) says what happened and returns the ms the try took;
    # returns [(server, elapsed, try_ms)] in the order asked.
    asked = []
    now = 0
    while True:
        k = plan.server(now)
        if k < 0:
            return asked
        wait = plan.try_ms(now)
        asked.append((k, now, wait))
        now += step(plan, k, wait)


def _silent(plan, k, wait):
    plan.no_answer(k)
    return wait


def test_first_round_waits_a_third_of_the_deadline_shared_by_the_servers():
    assert Schedule(2, 3000).wait == 500
    assert Schedule(1, 3000).wait == 1000
    assert Schedule(4, 600).wait == MIN_TRY_MS  # never less than 100 ms


def test_silent_servers_are_asked_in_turn_each_round_twice_as_long_until_the_deadline():
    plan = Schedule(2, 3000)
    assert _run(plan, _silent) == [(0, 0, 500), (1, 500, 500), (0, 1000, 1000), (1, 2000, 1000)]
    assert plan.live == [0, 1]
    assert plan.failure() == WSATRY_AGAIN  # timed out with servers left


def test_the_last_try_is_cut_at_the_deadline():
    plan = Schedule(1, 2500)
    assert _run(plan, _silent) == [(0, 0, 833), (0, 833, 1666), (0, 2499, 1)]


def test_the_wait_stops_doubling_at_the_deadline():
    plan = Schedule(1, 300)
    for _ in range(5):
        plan.no_answer(0)
    assert plan.wait == 400  # 100, 200, 400: doubled while below 300 ms


def test_a_final_answer_ends_the_query():
    plan = Schedule(2, 3000)
    assert plan.answer(0, dnsmsg.RCODE_NOERROR)
    assert plan.answer(1, dnsmsg.RCODE_NXDOMAIN)  # "no such name" is an answer too
    assert plan.live == [0, 1]


def test_servfail_takes_the_server_out_and_says_try_again():
    plan = Schedule(2, 3000)
    assert not plan.answer(0, dnsmsg.RCODE_SERVFAIL)
    assert plan.live == [1] and plan.server(10) == 1
    assert not plan.answer(1, dnsmsg.RCODE_SERVFAIL)
    assert plan.server(20) == -1 and plan.failure() == WSATRY_AGAIN


def test_refused_by_every_server_is_no_recovery():
    plan = Schedule(2, 3000)
    assert not plan.answer(0, 5)  # REFUSED
    assert not plan.answer(1, 4)  # NOTIMP
    assert plan.server(0) == -1 and plan.failure() == WSANO_RECOVERY


def test_an_unreachable_server_is_skipped_and_the_next_one_asked_at_once():
    plan = Schedule(3, 3000)
    assert plan.server(0) == 0
    plan.unreachable(0)  # ICMP port unreachable, no route, or a failed TCP retry
    assert plan.live == [1, 2] and plan.server(0) == 1
    plan.unreachable(0)  # a second report of the same server changes nothing
    assert plan.live == [1, 2]
    plan.unreachable(1)
    plan.unreachable(2)
    assert plan.server(0) == -1 and plan.failure() == WSATRY_AGAIN


def test_rotation_goes_on_after_a_server_left():
    plan = Schedule(3, 9000)  # wait 1000
    plan.no_answer(0)
    assert plan.server(1000) == 1
    plan.unreachable(1)  # refused during its try: no turn used
    assert plan.server(1000) == 2
    plan.no_answer(2)  # turn 2 of 2 live servers: a new round, twice as long
    assert plan.server(2000) == 0 and plan.wait == 2000


def test_no_answer_from_a_server_out_of_the_rotation_does_not_turn():
    plan = Schedule(2, 3000)
    plan.unreachable(0)
    plan.no_answer(0)
    assert plan.turn == 0 and plan.server(0) == 1


def test_no_server_means_nothing_to_ask():
    plan = Schedule(0, 3000)
    assert plan.server(0) == -1 and plan.failure() == WSANO_RECOVERY
