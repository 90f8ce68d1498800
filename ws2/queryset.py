# ws2/queryset: WSAQuerySet (WSAQUERYSETW under snake_case names) and the service class ids.
# MIT licence; part of ws2 for MicroPython.
#
# Field names drop the Hungarian prefixes and the counts that a Python list
# carries itself: lpszServiceInstanceName -> service_instance_name,
# lpServiceClassId -> service_class_id, lpVersion -> version, lpszComment ->
# comment, dwNameSpace -> name_space, lpNSProviderId -> ns_provider_id,
# lpszContext -> context, dwNumberOfProtocols + lpafpProtocols ->
# afp_protocols (list of (family, protocol)), lpszQueryString -> query_string,
# dwNumberOfCsAddrs + lpcsaBuffer -> csa_buffer (list of CSADDR_INFO tuples
# (local_addr, remote_addr, socket_type, protocol)), dwOutputFlags ->
# output_flags, lpBlob -> blob (for DNS: the HOSTENT tuple
# (h_name, h_aliases, h_addrtype, h_addr_list)).

# svcguid.h
SVCID_HOSTNAME = "{0002A800-0000-0000-C000-000000000046}"
SVCID_INET_HOSTADDRBYINETSTRING = "{0002A801-0000-0000-C000-000000000046}"
SVCID_INET_SERVICEBYNAME = "{0002A802-0000-0000-C000-000000000046}"
SVCID_INET_HOSTADDRBYNAME = "{0002A803-0000-0000-C000-000000000046}"
SVCID_DNS_TYPE_A = "{00090035-0000-0001-C000-000000000046}"
SVCID_DNS_TYPE_PTR = "{00090035-0000-000C-C000-000000000046}"
SVCID_DNS_TYPE_AAAA = "{00090035-0000-001C-C000-000000000046}"
RESULT_IS_ALIAS = 0x0001  # dwOutputFlags of a result that names an alias (LUP_RETURN_ALIASES)

_FIELDS = ("service_instance_name", "service_class_id", "version", "comment", "name_space",
           "ns_provider_id", "context", "afp_protocols", "query_string", "csa_buffer",
           "output_flags", "blob")


class WSAQuerySet:
    """A name-service query or result (WSAQUERYSETW)."""

    def __init__(self, service_instance_name=None, service_class_id=None, version=None, comment=None,
                 name_space=0, ns_provider_id=None, context=None, afp_protocols=None, query_string=None,
                 csa_buffer=None, output_flags=0, blob=None):
        self.service_instance_name = service_instance_name
        self.service_class_id = service_class_id
        self.version = version
        self.comment = comment
        self.name_space = name_space
        self.ns_provider_id = ns_provider_id
        self.context = context
        self.afp_protocols = afp_protocols
        self.query_string = query_string
        self.csa_buffer = csa_buffer
        self.output_flags = output_flags
        self.blob = blob

    def __repr__(self):
        parts = []
        for f in _FIELDS:
            v = getattr(self, f)
            if v is not None and v != 0:
                parts.append("%s=%r" % (f, v))
        return "WSAQuerySet(%s)" % ", ".join(parts)
