"""A minimal D-Bus client: method calls on the session bus and their replies, nothing else.

For `fastsecret`, on `get`'s path: importing `jeepney.io.blocking` (which SecretStorage uses,
so it is installed anyway) costs more than a whole `git credential fill` through git's C
libsecret helper (it pulls in typing, enum, selectors, socket, ...). The few messages needed are
marshalled here with `_socket` and `struct` only; the tests check every message against
jeepney's own marshalling. Every call carries NO_AUTO_START: starting a service that is not
running is not ours to do.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BUS_IFACE", "BUS_NAME", "BUS_PATH", "SECRETS", "Bus", "BusUnavailable", "DBusError",
           "NoBus", "method_call", "socket_addresses"]

SECRETS = "org.freedesktop.secrets"  # the Secret Service's bus name
BUS_NAME = BUS_IFACE = "org.freedesktop.DBus"  # the bus itself
BUS_PATH = "/org/freedesktop/DBus"


class BusUnavailable(Exception):
    """The bus cannot be used: no unix socket in the address, nobody listening there, the
    authentication refused, or a message that is not what a bus sends."""


class NoBus(BusUnavailable):
    """Nothing there: every socket of the address is missing or refuses connections (a
    timeout or any other failure is not proof of that)."""


class DBusError(Exception):
    """An error reply; only its name (e.g. org.freedesktop.Secret.Error.IsLocked) is kept."""


_HEADER_PATH, _HEADER_INTERFACE, _HEADER_MEMBER, _HEADER_ERROR_NAME = 1, 2, 3, 4
_HEADER_REPLY_SERIAL, _HEADER_DESTINATION, _HEADER_SIGNATURE = 5, 6, 8
_METHOD_CALL, _METHOD_RETURN, _ERROR = 1, 2, 3
_NO_AUTO_START = 0x2
_MAX_MESSAGE = 1 << 20  # our replies are tiny; anything larger is not what we asked for


def socket_addresses(address: str) -> list[str]:
    """The unix socket addresses in a D-Bus address list (`unix:path=` / `unix:abstract=`)."""
    found = []
    for entry in address.split(";"):
        transport, _, params = entry.partition(":")
        if transport != "unix":
            continue
        values = {}
        for pair in params.split(","):
            key, _, value = pair.partition("=")
            values[key] = _unescape(value)
        if "path" in values:
            found.append(values["path"])
        elif "abstract" in values:
            found.append("\0" + values["abstract"])
    return found


def _unescape(value: str) -> str:
    if "%" not in value:
        return value
    raw = value.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25 and i + 3 <= len(raw):  # %XX
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


class Bus:
    """A connection to the bus at `address`, authenticated and introduced (Hello); every
    step of it, calls included, within `timeout` seconds of its start."""

    def __init__(self, address: str, timeout: float) -> None:
        import _socket
        import time

        self._monotonic = time.monotonic
        self._deadline = time.monotonic() + timeout
        self._serial = 0
        self._buffer = b""
        self._sock = None
        targets = socket_addresses(address)
        if not targets:
            raise BusUnavailable("no unix socket in DBUS_SESSION_BUS_ADDRESS")
        error: Exception | None = None
        for target in targets:
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                sock.settimeout(self._remaining())
                sock.connect(target)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            self._sock = sock
            break
        if self._sock is None:
            nothing = isinstance(error, (FileNotFoundError, ConnectionRefusedError))
            raise (NoBus if nothing else BusUnavailable)(
                f"cannot connect to the session bus ({type(error).__name__})")
        self._authenticate()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _remaining(self) -> float:
        left = self._deadline - self._monotonic()
        if left <= 0:
            raise TimeoutError("the Secret Service did not answer in time")
        return left

    def _send(self, data: bytes) -> None:
        assert self._sock is not None
        self._sock.settimeout(self._remaining())
        self._sock.sendall(data)

    def _recv(self) -> bytes:
        assert self._sock is not None
        self._sock.settimeout(self._remaining())
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the bus closed the connection")
        return chunk

    def _authenticate(self) -> None:
        uid = str(os.geteuid()).encode("ascii").hex().encode("ascii")
        self._send(b"\0AUTH EXTERNAL " + uid + b"\r\n")
        while b"\r\n" not in self._buffer:
            self._buffer += self._recv()
            if len(self._buffer) > 4096:
                raise BusUnavailable("unexpected answer from the bus")
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        if not line.startswith(b"OK "):
            raise BusUnavailable("the session bus refused authentication")
        self._send(b"BEGIN\r\n")
        # Every connection must say Hello before the bus routes its calls.
        self.call(BUS_PATH, BUS_IFACE, "Hello", destination=BUS_NAME)

    def call(self, path: str, interface: str, member: str, signature: str = "",
             body: tuple[Any, ...] = (), destination: str = SECRETS) -> tuple[Any, ...]:
        self._serial += 1
        serial = self._serial
        self._send(method_call(serial, destination, path, interface, member, signature, body))
        while True:
            kind, fields, reply_body = self._read_message()
            if fields.get(_HEADER_REPLY_SERIAL) != serial:
                continue  # a signal (NameAcquired) or anything else: not ours
            if kind == _ERROR:
                raise DBusError(str(fields.get(_HEADER_ERROR_NAME, "unknown error")))
            if kind != _METHOD_RETURN:
                raise BusUnavailable("unexpected message from the bus")
            return reply_body

    def _read_message(self) -> tuple[int, dict[int, Any], tuple[Any, ...]]:
        import struct

        while True:
            if len(self._buffer) >= 16:
                endian = {0x6C: "<", 0x42: ">"}.get(self._buffer[0])
                if endian is None:
                    raise BusUnavailable("malformed message from the bus")
                body_len, _, fields_len = struct.unpack_from(endian + "III", self._buffer, 4)
                header_len = 16 + fields_len + (-fields_len % 8)
                total = header_len + body_len
                if total > _MAX_MESSAGE:
                    raise BusUnavailable("oversized message from the bus")
                if len(self._buffer) >= total:
                    message, self._buffer = self._buffer[:total], self._buffer[total:]
                    break
            self._buffer += self._recv()
        reader = _Reader(message, endian)
        reader.pos = 12
        (raw_fields,) = reader.read("a(yv)")
        fields = {code: value for code, (_, value) in raw_fields}
        reader.pos = header_len
        signature = fields.get(_HEADER_SIGNATURE, "")
        body = reader.read(signature) if signature else ()
        return message[1], fields, body


def method_call(serial: int, destination: str, path: str, interface: str, member: str,
                 signature: str, body: tuple[Any, ...]) -> bytes:
    fields = [(_HEADER_PATH, ("o", path)), (_HEADER_INTERFACE, ("s", interface)),
              (_HEADER_MEMBER, ("s", member)), (_HEADER_DESTINATION, ("s", destination))]
    if signature:
        fields.append((_HEADER_SIGNATURE, ("g", signature)))
    payload = _Writer()
    if signature:
        payload.write(signature, body)
    header = _Writer()
    # NO_AUTO_START: a Secret Service that is not running is keyring's to start.
    header.write("yyyyuua(yv)", (0x6C, _METHOD_CALL, _NO_AUTO_START, 1, len(payload.data),
                                 serial, fields))
    header.pad(8)
    return bytes(header.data + payload.data)


_FIXED = {"y": "B", "b": "I", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q",
          "d": "d", "h": "I"}
_ALIGN = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "h": 4,
          "s": 4, "o": 4, "g": 1, "a": 4, "(": 8, "{": 8, "v": 1}


def _split(signature: str) -> list[str]:
    """Complete types of a signature: "a{ss}sv" -> ["a{ss}", "s", "v"]."""
    types, i = [], 0
    while i < len(signature):
        j = _type_end(signature, i)
        types.append(signature[i:j])
        i = j
    return types


def _type_end(signature: str, i: int) -> int:
    char = signature[i]
    if char == "a":
        return _type_end(signature, i + 1)
    if char in "({":
        depth, j = 0, i
        while True:
            if signature[j] in "({":
                depth += 1
            elif signature[j] in ")}":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
    if char in _ALIGN:
        return i + 1
    raise ValueError("unsupported D-Bus type")


class _Writer:
    """Little-endian D-Bus marshalling of the few types our calls send."""

    def __init__(self) -> None:
        self.data = bytearray()

    def pad(self, alignment: int) -> None:
        self.data += b"\0" * (-len(self.data) % alignment)

    def write(self, signature: str, values: Any) -> None:
        import struct

        for code, value in zip(_split(signature), values):
            self._one(code, value, struct)

    def _one(self, code: str, value: Any, struct: Any) -> None:
        first = code[0]
        self.pad(_ALIGN[first])
        if first in _FIXED:
            self.data += struct.pack("<" + _FIXED[first], value)
        elif first in "so":
            raw = value.encode("utf-8")
            self.data += struct.pack("<I", len(raw)) + raw + b"\0"
        elif first == "g":
            raw = value.encode("ascii")
            self.data += bytes((len(raw),)) + raw + b"\0"
        elif first == "v":
            inner, inner_value = value
            self._one("g", inner, struct)
            self._one(inner, inner_value, struct)
        elif first == "(":
            for part, part_value in zip(_split(code[1:-1]), value):
                self._one(part, part_value, struct)
        elif first == "a":
            self._array(code[1:], value, struct)
        else:
            raise ValueError("unsupported D-Bus type")

    def _array(self, element: str, value: Any, struct: Any) -> None:
        """An array (or a dict, `a{kv}`): its byte length first, patched in at the end."""
        self.data += b"\0\0\0\0"
        length_at = len(self.data) - 4
        self.pad(_ALIGN[element[0]])
        start = len(self.data)
        if element[0] == "{":
            key, item = _split(element[1:-1])
            for k, v in value.items():
                self.pad(8)
                self._one(key, k, struct)
                self._one(item, v, struct)
        else:
            for item_value in value:
                self._one(element, item_value, struct)
        struct.pack_into("<I", self.data, length_at, len(self.data) - start)


class _Reader:
    """D-Bus unmarshalling of any (non-fd) type, for replies."""

    def __init__(self, data: bytes, endian: str) -> None:
        import struct

        self.data = data
        self.endian = endian
        self.pos = 0
        self._struct = struct

    def read(self, signature: str) -> tuple[Any, ...]:
        return tuple(self._one(code) for code in _split(signature))

    def _align(self, alignment: int) -> None:
        self.pos += -self.pos % alignment

    def _one(self, code: str) -> Any:
        first = code[0]
        self._align(_ALIGN[first])
        unpack = self._struct.unpack_from
        if first in _FIXED:
            fmt = self.endian + _FIXED[first]
            (value,) = unpack(fmt, self.data, self.pos)
            self.pos += self._struct.calcsize(fmt)
            return bool(value) if first == "b" else value
        if first in "so":
            (length,) = unpack(self.endian + "I", self.data, self.pos)
            start = self.pos + 4
            self.pos = start + length + 1
            return self.data[start:start + length].decode("utf-8")
        if first == "g":
            length = self.data[self.pos]
            start = self.pos + 1
            self.pos = start + length + 1
            return self.data[start:start + length].decode("ascii")
        if first == "v":
            inner = self._one("g")
            return (inner, self._one(inner))
        if first in "({":
            return tuple(self._one(part) for part in _split(code[1:-1]))
        if first == "a":
            (length,) = unpack(self.endian + "I", self.data, self.pos)
            self.pos += 4
            element = code[1:]
            self._align(_ALIGN[element[0]])
            end = self.pos + length
            if element == "y":
                value = self.data[self.pos:end]
                self.pos = end
                return bytes(value)
            items = []
            while self.pos < end:
                items.append(self._one(element))
            if element[0] == "{":
                return dict(items)
            return items
        raise ValueError("unsupported D-Bus type")
