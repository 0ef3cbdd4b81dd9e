"""Shared-memory bank conflicts, computed on CPU threads from the kernel's own accesses.

Taught in notebook 03 (why version 3 is shared-memory bound, why merge-split with
contiguous runs is slower). Shared memory has 32 banks, each 4 bytes wide: word w
(byte address / 4) lives in bank w % 32. A warp's load or store is served in
*wavefronts*: one per distinct word that the busiest bank must deliver -- lanes that
read the same word share it (a broadcast), lanes that need different words of one
bank wait for each other. A request's conflict degree is its wavefronts (1 is
conflict-free, 32 the worst); the kernel's is the total of wavefronts over the total
of requests.

The CPU runner (:func:`py2ptx.cuda_on_cpu.trace_on_cpu`) records every shared-memory
access with its thread, its pc and the student's line. A *request* is one
instruction (pc) executed by one warp: the k-th time each lane of the warp runs that
pc. That is how a GPU groups them when the warp's lanes run in step; where lanes take
different paths through a loop (a data-dependent ``while``), the k-th times of two
lanes may belong to different passes, and the figure is an estimate of the model,
not a measurement. It is the model -- never a GPU figure: Nsight Compute's
``l1tex__data_bank_conflicts_pipe_lsu_mem_shared`` counters, recorded by the GPU
check, are the measurement it is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cpu_trace import ATOMIC, KIND_ARG, WRITE, Trace, expand_words
from .cuda_on_cpu import trace_on_cpu

BANKS = 32


@dataclass
class Site:
    """One line's shared-memory loads (or stores), summed over every warp request."""

    line: int
    text: str
    kind: str  # "load" or "store"
    requests: int
    wavefronts: int

    @property
    def degree(self) -> float:
        """Wavefronts per request: 1.0 conflict-free, 2.0 a 2-way conflict, up to 32."""
        return self.wavefronts / self.requests if self.requests else 0.0

    def __str__(self) -> str:
        return (f"line {self.line:3d} {self.kind:5s} {self.requests:7d} requests "
                f"{self.wavefronts:8d} wavefronts  {self.degree:5.2f}-way | {self.text}")


@dataclass
class BankReport:
    """The bank conflicts of one run, per line of the student's kernel."""

    kernel: str
    sites: list[Site]
    _lanes: dict = field(default_factory=dict, repr=False)  # (line, kind) -> [request lanes]

    @property
    def total_requests(self) -> int:
        return sum(s.requests for s in self.sites)

    @property
    def total_wavefronts(self) -> int:
        return sum(s.wavefronts for s in self.sites)

    @property
    def degree(self) -> float:
        return self.total_wavefronts / self.total_requests if self.total_requests else 0.0

    @property
    def worst(self) -> Site | None:
        """The site with the highest conflict degree (the most wavefronts on a tie)."""
        return max(self.sites, key=lambda s: (s.degree, s.wavefronts), default=None)

    def request(self, site: Site, k: int = 0) -> list[tuple[int, int] | None]:
        """The 32 lanes of ``site``'s k-th request: (bank, word) per lane -- the word's
        index in its shared array, counted in 4-byte words -- or None for a lane that
        did not take part (inactive, or past the block's threads)."""
        requests = self._lanes.get((site.line, site.kind), [])
        if not requests:
            raise ValueError(f"no requests recorded for line {site.line} ({site.kind})")
        return requests[k % len(requests)]

    def __str__(self) -> str:
        head = (f"{self.kernel}: {self.total_requests} shared-memory requests, "
                f"{self.total_wavefronts} wavefronts, {self.degree:.2f} per request "
                f"(CPU-thread model, not a GPU measurement)")
        return "\n".join([head, *map(str, self.sites)])


def bank_conflicts(source, kernel: str, grid, block, *args, shared_mem: int = 0,
                   timeout: float = 30.0) -> BankReport:
    """Run ``kernel`` on CPU threads (as :func:`py2ptx.cuda_on_cpu.run_on_cpu`) and
    count its shared-memory bank conflicts, per line. The arrays are updated as by
    the run."""
    trace = trace_on_cpu(source, [(kernel, grid, block, (), shared_mem)], *args,
                         timeout=timeout)
    return report_from_trace(trace, kernel)


def report_from_trace(trace: Trace, kernel: str = "kernel") -> BankReport:
    """Group a trace's shared-memory accesses into warp requests and count wavefronts."""
    ev = trace.events
    kinds = np.array([r.kind for r in trace.regions])
    ev = ev[(kinds[ev["region"]] != KIND_ARG) & ((ev["sizeflags"] & ATOMIC) == 0)]
    if ev.size == 0:
        return BankReport(kernel, [])
    # the k-th time each thread runs each pc (events are in program order per thread)
    key = np.stack([ev["launch"], ev["block"], ev["thread"], ev["pc"]], axis=1).astype(np.int64)
    order = np.lexsort((np.arange(ev.size), key[:, 3], key[:, 2], key[:, 1], key[:, 0]))
    sk = key[order]
    new = np.ones(ev.size, bool)
    new[1:] = (sk[1:] != sk[:-1]).any(axis=1)
    starts = np.maximum.accumulate(np.where(new, np.arange(ev.size), 0))
    occurrence = np.empty(ev.size, np.int64)
    occurrence[order] = np.arange(ev.size) - starts
    req_key = np.stack([ev["launch"], ev["block"], ev["thread"] // 32, ev["pc"], occurrence],
                       axis=1).astype(np.int64)
    _, first, req = np.unique(req_key, axis=0, return_index=True, return_inverse=True)
    req = req.ravel()
    rows, word = expand_words(ev)
    bank = word % BANKS
    # the word's number within its array, for the picture (banks need no offset: shared
    # memory is 128-byte aligned on the CPU as on a GPU)
    local = word - (trace.starts[ev["region"][rows]].astype(np.int64) >> 2)
    # distinct words per (request, bank); the busiest bank sets the wavefronts
    rw = np.unique(np.stack([req[rows], word], axis=1), axis=0)
    rb, per_bank = np.unique(np.stack([rw[:, 0], rw[:, 1] % BANKS], axis=1), axis=0,
                             return_counts=True)
    wavefronts = np.zeros(first.size, np.int64)
    np.maximum.at(wavefronts, rb[:, 0], per_bank)
    sites: dict[tuple[int, str], list[int]] = {}
    lanes: dict[tuple[int, str], list] = {}
    pcs = ev["pc"][first]
    writes = (ev["sizeflags"][first] & WRITE) != 0
    by_request = np.argsort(req[rows], kind="stable")
    bounds = np.searchsorted(req[rows][by_request], np.arange(first.size + 1))
    for r in np.argsort(first):  # requests in the order they first happened
        site = (trace.line(pcs[r]), "store" if writes[r] else "load")
        counts = sites.setdefault(site, [0, 0])
        counts[0] += 1
        counts[1] += int(wavefronts[r])
        picture: list[tuple[int, int] | None] = [None] * 32
        for i in by_request[bounds[r]:bounds[r + 1]]:
            lane = int(ev["thread"][rows[i]]) % 32
            if picture[lane] is None:
                picture[lane] = (int(bank[i]), int(local[i]))
        lanes.setdefault(site, []).append(picture)
    out = [Site(line, trace.source[line - 1].strip() if 1 <= line <= len(trace.source) else "",
                kind, n, w) for (line, kind), (n, w) in sorted(sites.items())]
    return BankReport(kernel, out, lanes)


def bank_picture(report_or_request, ax=None, title: str | None = None):
    """Draw one warp request: lanes (left) to the banks they hit (right), one colour per
    distinct word; a bank with k words costs k wavefronts. Takes a
    :class:`BankReport` (its worst site's first request) or one request's 32
    (bank, word) lanes from :meth:`BankReport.request`."""
    import matplotlib.pyplot as plt

    if isinstance(report_or_request, BankReport):
        site = report_or_request.worst
        if site is None:
            raise ValueError("the report has no shared-memory accesses to draw")
        lanes = report_or_request.request(site)
        title = title or f"line {site.line} ({site.kind}): {site.text}"
    else:
        lanes = list(report_or_request)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 7))
    words_in_bank: dict[int, list[int]] = {}
    for hit in lanes:
        if hit is not None and hit[1] not in words_in_bank.setdefault(hit[0], []):
            words_in_bank[hit[0]].append(hit[1])
    worst = max((len(w) for w in words_in_bank.values()), default=0)
    colours = plt.get_cmap("tab20")
    for lane, hit in enumerate(lanes):
        if hit is None:
            continue
        b, w = hit
        c = colours(words_in_bank[b].index(w) % 20)
        ax.plot([0, 1], [lane, b], color=c, lw=1.5)
    ax.scatter([0] * 32, range(32), s=12, color="black", zorder=3)
    ax.scatter([1] * 32, range(32), s=[12 + 18 * len(words_in_bank.get(b, [])) for b in range(32)],
               color="tab:red", zorder=3)
    ax.set_xticks([0, 1], ["lane", "bank"])
    ax.set_ylim(32, -1)
    ax.set_ylabel("lane / bank number")
    heading = f"{worst}-way: the busiest bank serves {worst} different words" if worst else ""
    ax.set_title("\n".join(t for t in (title, heading) if t), fontsize=9)
    return ax
