# ws2: the Winsock 2 router for MicroPython. Lazy root: `import ws2` costs little RAM;
# each public name's module is imported on first use and the name cached here.
# MIT licence; part of ws2 for MicroPython.

# module -> the public names it defines (searched only on the first use of a name).
_WHERE = (
    ("startup", " WSAStartup WSACleanup WSAGetLastError WSASetLastError WSAData MAKEWORD"
                " WSAIsBlocking WSASetBlockingHook WSAUnhookBlockingHook "),
    ("socklife", " socket WSASocket bind accept WSAAccept closesocket WSADuplicateSocket "),
    ("sockio", " send recv recv_into sendto recvfrom WSASend WSARecv WSASendTo WSARecvFrom "),
    ("sockctrl", " connect WSAConnect WSAJoinLeaf listen getsockname getpeername getsockopt setsockopt"
                 " shutdown WSASendDisconnect WSARecvDisconnect WSAIoctl ioctlsocket "),
    ("enumprot", " WSAEnumProtocols WSCEnumProtocols "),
    ("install", " WSCInstallProvider WSCDeinstallProvider WSCWriteProviderOrder WSCGetProviderPath"
                " WSCUpdateProvider "),
    ("addrconv", " htons htonl ntohs ntohl inet_pton inet_ntop WSAStringToAddress WSAAddressToString "),
    ("protocol_info", " WSAProtocolInfo "),
    ("settings", " config "),
    ("errors", " WSAError strerror "),
    ("event", " WSACreateEvent WSASetEvent WSAResetEvent WSACloseEvent WSAWaitForMultipleEvents"
              " sleep_alertable WSAEvent "),
    ("netevents", " WSAEventSelect WSAEnumNetworkEvents WSAAsyncSelect "),
    ("sockselect", " select WSAPoll WSAPOLLFD "),
    ("overlapped", " WSAOverlapped WSAGetOverlappedResult "),
    ("blocking", " WSACancelBlockingCall "),
    ("nsrouter", " getaddrinfo getnameinfo gethostbyname gethostbyaddr WSALookupServiceBegin"
                 " WSALookupServiceNext WSALookupServiceEnd WSAQuerySet WSCInstallNameSpace"
                 " WSCUnInstallNameSpace WSCEnableNSProvider WSCEnumNameSpaceProviders"
                 " WSAEnumNameSpaceProviders WSANameSpaceInfo RESULT_IS_ALIAS SVCID_HOSTNAME"
                 " SVCID_INET_HOSTADDRBYINETSTRING SVCID_INET_SERVICEBYNAME SVCID_INET_HOSTADDRBYNAME"
                 " SVCID_DNS_TYPE_A SVCID_DNS_TYPE_PTR SVCID_DNS_TYPE_AAAA "),
)




try:
    from _thread import allocate_lock as _alloc, get_ident as _ident

    _lock = _alloc()
except ImportError:  # a port without threads
    _lock = None
_owner = [None]  # the thread inside _load (None: nobody)


def __getattr__(name):
    # One thread at a time imports: two threads making a first call at once would otherwise see a
    # half-made module (AttributeError) or race on its file. Nested lookups on the same thread pass.
    if _lock is None:
        return _load(name)
    me = _ident()
    if _owner[0] == me:
        return _load(name)
    with _lock:
        _owner[0] = me
        try:
            return _load(name)
        finally:
            _owner[0] = None


def _load(name):
    key = " " + name + " "
    if name.islower() and not any(key in names for _, names in _WHERE):
        # A submodule: MicroPython resolves `from ws2 import catalog` through here.
        import sys

        try:
            __import__("ws2." + name)
        except ImportError as e:
            if name not in str(e):  # a module that exists but failed inside: say so
                raise
            raise AttributeError(name)
        return sys.modules["ws2." + name]
    for mod, names in _WHERE:
        if key in names:
            break
    else:
        # Constants: WSA error codes, then the Winsock constants. Groups a program
        # may never touch are modules of their own, found by prefix (a socket-only
        # program loads only ws2.const; its dict is the largest block of an import).
        mod = "errors" if name.startswith("WSA") else "const"
        if name.startswith(("NS_", "LUP_", "AI_", "NI_")):
            mod = "nsconst"
        elif name.startswith(("SO_SEC", "SO_SSL_", "SSL_")):
            mod = "tlsconst"
        elif name.startswith(("WSP_", "NSP_")):
            mod = "spiconst"
    m = __import__("ws2." + mod, None, None, [name])
    try:
        value = getattr(m, name)
    except AttributeError:
        if mod != "errors":
            raise AttributeError(name)
        value = getattr(__import__("ws2.const", None, None, [name]), name)
    globals()[name] = value
    return value


def _reset():
    # For tests: the router as just imported - stopped, the handle table unsized,
    # the catalogs and settings read again from flash on their next use. Modules
    # not imported yet are already in that state and stay unimported.
    import sys

    m = sys.modules.get("ws2.state")
    if m is not None:
        from ws2.startup import WSACleanup

        while m.started:
            try:
                WSACleanup()
            except Exception:  # a provider failing its cleanup must not keep the router up
                m.started = 0
        m.version = 0
    m = sys.modules.get("ws2.handles")
    if m is not None:
        m.capacity = 0
    for name in ("ws2.catalog", "ws2.settings", "ws2.nscatalog"):
        m = sys.modules.get(name)
        if m is not None:
            m.forget()
