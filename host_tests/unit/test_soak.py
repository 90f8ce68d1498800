# firmware/soak's pure parts: result lines, totals, the Markdown report, and the DNS fuzz generators.
# MIT licence; part of ws2 for MicroPython.
from firmware import soak, soak_dns
from providers import dnsmsg


def test_rows_and_failures_are_read_from_the_board_output():
    text = "\n".join([
        "noise",
        "@F ('api', 'not a WSAError: f(None)')",
        "@H 12",
        "@S ('api', 'calls', 100, 1, ['refused: 99'])",
        "@S ('x', 'bad', 1)",  # not a row: ignored
        "@S ('spi', 'slots', 5, 0, [])",
    ])
    rows = soak.parse_rows(text)
    assert [r["id"] for r in rows] == ["api", "spi"]
    assert rows[0]["tried"] == 100 and rows[0]["broke"] == 1 and rows[0]["failures"] == ["not a WSAError: f(None)"]
    assert "failures" not in rows[1]
    assert soak.totals([{"rows": rows}]) == (105, 1)


def test_markdown_has_every_section_with_its_rows():
    sections = [{"id": sid, "title": title, "duration_s": 1.0,
                 "rows": [soak.new_row(sid + ".a", "tried | piped", 3, 0, ["n1", "n2"])]}
                for sid, title in soak.SECTIONS]
    report = {"board": {"name": "UNIX"}, "quick": True, "virtual": True, "heap": "320K", "small_heap": "220K",
              "port": None, "started": "t", "duration_s": 9.0, "seed": 1, "code": {}, "tried": 21, "broke": 0,
              "counts": soak.QUICK, "sections": sections}
    md = soak.markdown(report)
    for _, title in soak.SECTIONS:
        assert "## " + title in md
    assert "tried \\| piped" in md and "n1; n2" in md and "**21 tried, 0 broke**" in md
    assert "kills 10" in md


def test_fuzz_yields_only_dns_errors_and_the_hostile_families_are_what_they_say():
    n, fails, kinds, secs, worst = soak_dns.fuzz(3000, 7, dnsmsg)
    assert n == 3000 and not fails and set(kinds) == {"parsed", "DNSError"}
    assert kinds["parsed"] > 300 and kinds["DNSError"] > 300
    # the backward chain is a well-formed message whose last name walks every pointer
    r = dnsmsg.parse(soak_dns.pointer_chain(4096))
    assert r[4] == [("a", 1, 60, "127.0.0.1")]
    for name, make in soak_dns.FAMILIES:
        data = make(2048)
        assert 1000 < len(data) <= 2048 + 300, name
