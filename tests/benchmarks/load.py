"""A closed-loop HTTP load generator: N clients on keep-alive connections, each
sending its next request as soon as the last one answered."""
from __future__ import annotations

import http.client
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


def run_clients(port: int, clients: int, seconds: float,
                make_client: Callable[[http.client.HTTPConnection, int], Callable[[], None]]) -> Result:
    """`make_client(connection, index)` prepares one client (login, tokens…) and returns
    the function that sends one request; it must raise if the answer is wrong."""
    barrier = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def client(index: int):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            send = make_client(conn, index)
        except BaseException as e:
            errors.append(e)
            barrier.abort()
            return
        barrier.wait()
        try:
            while not stop.is_set():
                start = time.perf_counter()
                send()
                latencies[index].append(time.perf_counter() - start)
        except BaseException as e:
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    flat = [x for per_client in latencies for x in per_client]
    return Result(len(flat), elapsed, flat)
