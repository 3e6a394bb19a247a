"""The DICOM node's listening side: a C-STORE and C-ECHO SCP (pynetdicom).

Associations are accepted only from the allowed calling AE titles (A-ASSOCIATE-RJ otherwise, by
pynetdicom's `require_calling_aet`) and source addresses (the connection is closed before any
association), up to `max_associations` at once, over TLS when configured. Every storage SOP class
is accepted in every transfer syntax pynetdicom knows (a modality must never see a failure for an
object the model does not take: it is accepted and left unclassified). A received object is kept
in the spool, durably, before the C-STORE is answered with success; an object over the size limit
is refused with A700 (out of resources), one the spool cannot keep likewise (the modality retries).

Nothing of a received dataset is logged: pynetdicom's own logger is held at WARNING (its debug
output can show element values).
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
from collections.abc import Callable
from typing import Any

from edgexray.pacs.node_settings import NodeSettings, TlsSettings
from edgexray.pacs.spool import Spool

Report = Callable[[str], None]
OUT_OF_RESOURCES = 0xA700
VERIFICATION = "1.2.840.10008.1.1"


def server_ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls.cert), str(tls.key))
    if tls.ca is not None:
        context.load_verify_locations(str(tls.ca))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class StorageNode:
    """The SCP. Each object kept in the spool is put on `received` as (path, calling AE)."""

    def __init__(self, settings: NodeSettings, spool: Spool, report: Report) -> None:
        self.settings = settings
        self.spool = spool
        self.report = report
        self.received: queue.Queue[tuple[Any, str]] = queue.Queue()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _on_store(self, event: Any) -> int:
        size = len(event.request.DataSet.getvalue())
        calling = str(event.assoc.requestor.ae_title).strip()
        if size > self.settings.max_object_bytes:
            self.report(
                f"refused an object of {size} bytes from {calling}: over the limit of "
                f"{self.settings.max_object_bytes}"
            )
            return OUT_OF_RESOURCES
        try:
            path = self.spool.put(event.encoded_dataset(include_meta=True))
        except OSError as exc:
            self.report(f"cannot keep an object from {calling}: {exc.strerror or exc}")
            return OUT_OF_RESOURCES
        self.received.put((path, calling))
        return 0x0000

    def _application_entity(self) -> Any:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts

        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        ae = AE(ae_title=self.settings.ae_title)
        ae.maximum_associations = self.settings.max_associations
        ae.require_calling_aet = list(self.settings.allowed_aes)
        ae.maximum_pdu_size = 0  # no limit of ours on PDUs; objects are limited by size
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(str(context.abstract_syntax), ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(VERIFICATION)
        return ae

    def start(self) -> tuple[str, int]:
        """Listen (in a thread); the address bound (port 0 picks a free one)."""
        from pynetdicom import evt

        ae = self._application_entity()
        tls = self.settings.tls
        server = ae.make_server(
            (self.settings.bind, self.settings.port),
            ssl_context=None if tls is None else server_ssl_context(tls),
            evt_handlers=[(evt.EVT_C_STORE, self._on_store)],
            server_class=_server_class(),
        )
        server.admit = self._admit
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="edgexray-dicom-scp", daemon=True
        )
        self._thread.start()
        host, port = server.server_address[:2]
        return str(host), int(port)

    def _admit(self, address: str) -> bool:
        allowed = self.settings.address_allowed(address)
        if not allowed:
            self.report(f"closed a connection from {address}: not an allowed address")
        return allowed

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _server_class() -> type:
    """pynetdicom's threaded server, closing a connection from an address not allowed before any
    association (socketserver's verify_request), and stopping without the AE's server list
    (make_server does not register it there)."""
    import socketserver

    from pynetdicom.transport import ThreadedAssociationServer

    class Server(ThreadedAssociationServer):
        admit: Callable[[str], bool] = staticmethod(lambda address: True)

        def verify_request(self, request: Any, client_address: Any) -> bool:
            return self.admit(str(client_address[0]))

        def shutdown(self) -> None:
            socketserver.TCPServer.shutdown(self)
            self.server_close()

    return Server
