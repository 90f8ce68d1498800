# The namespace catalog on a board survives a soft reset (it lives on flash, not in RAM).
# MIT licence; part of ws2 for MicroPython.
TEST_ID = "{7E57AB1E-0000-4000-8000-00000000BEEF}"
ENUM = "[(p.provider_id, p.name_space, p.version, p.active) for p in __import__('ws2').WSCEnumNameSpaceProviders()]"


def test_namespace_catalog_survives_soft_reset(device):
    device.exec("import ws2\ntry:\n    ws2.WSCUnInstallNameSpace(%r)\nexcept ws2.WSAError:\n    pass" % TEST_ID)
    device.exec("import ws2\nws2.WSCInstallNameSpace('Reset test', 'nsp_reset_test', 0x7E58, 3, %r)\n"
                "ws2.WSCEnableNSProvider(%r, False)" % (TEST_ID, TEST_ID))
    device.soft_reset()
    got = device.eval(ENUM)
    assert got[0] == ("{3C8441D3-B4F9-4EA0-8974-F4C349665191}", 12, 1, True)  # nspm stays first
    assert (TEST_ID, 0x7E58, 3, False) in got
    device.exec("import ws2\nws2.WSCUnInstallNameSpace(%r)" % TEST_ID)
    device.soft_reset()
    assert TEST_ID not in [p[0] for p in device.eval(ENUM)]
