"""A real S3 HTTP endpoint for tests (moto's server in its own process, on 127.0.0.1), and a TCP
proxy in front of it that can cut or stall a transfer part-way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from tests.support.pgserver import free_port

TEST_KEY_ID = "AKIAMIGTOOLTEST00001"
TEST_SECRET = "migtool-test-secret-never-printed-3f9c2e"


class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID=TEST_KEY_ID, AWS_SECRET_ACCESS_KEY=TEST_SECRET)
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=TEST_KEY_ID, aws_secret_access_key=TEST_SECRET)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def aws_env(**extra: str) -> dict[str, str]:
    """Credentials the way operators give them (standard AWS variables), and no ~/.aws or IMDS."""
    env = {
        "AWS_ACCESS_KEY_ID": TEST_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update(extra)
    return env


class TcpProxy:
    """127.0.0.1 proxy to `upstream_port`. After `limit` bytes from clients it either cuts every
    connection and refuses new ones ("cut"), or stops forwarding and holds them open ("stall")."""

    def __init__(self, upstream_port: int, limit: int, mode: str = "cut"):
        assert mode in ("cut", "stall")
        self.upstream_port = upstream_port
        self.limit = limit
        self.mode = mode
        self.forwarded = 0
        self.tripped = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.tripped.is_set() and self.mode == "cut":
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client:
                    with self._lock:
                        room = self.limit - self.forwarded
                        self.forwarded += min(len(data), max(room, 0))
                    if room < len(data):
                        if room > 0:
                            dst.sendall(data[:room])
                        self._trip()
                        return
                if self.tripped.is_set() and self.mode == "stall":
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not (self.mode == "stall" and self.tripped.is_set()):
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def _trip(self) -> None:
        self.tripped.set()
        if self.mode == "cut":
            self._listener.close()
            self._closed = True
            with self._lock:
                for s in self._sockets:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
                    except OSError:
                        pass

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            for s in self._sockets:
                try:
                    s.close()
                except OSError:
                    pass
