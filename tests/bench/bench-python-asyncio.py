#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The cost of the PyGObject override's asyncio surface, in one asyncio loop.

  bench-python-asyncio.py [--reps N] [--cycles N] [--quick]

Scenarios, run interleaved (one round of every scenario, then the next
round), each figure the median over the rounds, in microseconds per cycle:

  asyncio.Lock           async with asyncio.Lock(): the floor, always there
  override reader        async with lock.reader: (uncontended: no round trip)
  override writer        async with lock.writer:
  override acquire_async await lock.acquire_read_async() + guard.release()
  override hand-off      two tasks taking lock.writer in turn: every
                         acquisition waits, so it crosses the bridge thread
  aiorwlock reader       async with rw.reader: (RWLock(), its default)
  aiorwlock fast reader  async with rw.reader: (RWLock(fast=True))

aiorwlock is not in Debian: set AIORWLOCK_PATH to a directory holding its
package (aiorwlock/__init__.py, e.g. from its source) to add its rows and
the ratio of the override's reader to aiorwlock's; without it they are
skipped. Ratios come from the medians of one run, on one machine: compare
nothing across runs.

--quick (the smoke test in the 'bench' suite) runs a few cycles of each
and checks only correctness: each scenario ran all its cycles and left
the lock idle. It asserts nothing about time.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

import gi
gi.require_version('Aio', '1')
from gi.repository import Aio  # noqa: E402


def load_aiorwlock():
    path = os.environ.get('AIORWLOCK_PATH')
    if not path:
        return None
    sys.path.insert(0, path)
    import aiorwlock
    return aiorwlock


def assert_idle(lock):
    assert lock.props.readers == 0 and not lock.props.write_locked, 'a hold was left'
    assert lock.props.pending_readers == 0 and lock.props.pending_writers == 0, 'a waiter was left'


def scenarios(aiorwlock):
    async def asyncio_lock(n):
        lock = asyncio.Lock()
        for _ in range(n):
            async with lock:
                pass
        assert not lock.locked()

    async def override_side(side, n):
        lock = Aio.RwLock()
        s = getattr(lock, side)
        for _ in range(n):
            async with s:
                pass
        assert_idle(lock)

    async def override_reader(n):
        await override_side('reader', n)

    async def override_writer(n):
        await override_side('writer', n)

    async def override_acquire_async(n):
        lock = Aio.RwLock()
        for _ in range(n):
            (await lock.acquire_read_async()).release()
        assert_idle(lock)

    async def override_handoff(n):
        lock = Aio.RwLock()
        turns = []

        async def writer(name):
            for _ in range(n // 2):
                async with lock.writer:
                    turns.append(name)
                    # Let the other task ask while this one holds.
                    await asyncio.sleep(0)

        await asyncio.gather(writer('a'), writer('b'))
        assert len(turns) == (n // 2) * 2
        assert_idle(lock)

    rows = [
        ('asyncio.Lock', asyncio_lock),
        ('override reader', override_reader),
        ('override writer', override_writer),
        ('override acquire_async', override_acquire_async),
        ('override hand-off', override_handoff),
    ]
    if aiorwlock is not None:
        async def aiorwlock_reader(n, fast=False):
            rw = aiorwlock.RWLock(fast=fast)
            for _ in range(n):
                async with rw.reader:
                    pass
            assert not rw.reader.locked

        async def aiorwlock_fast_reader(n):
            await aiorwlock_reader(n, fast=True)

        rows += [('aiorwlock reader', aiorwlock_reader),
                 ('aiorwlock fast reader', aiorwlock_fast_reader)]
    return rows


async def run(rows, reps, cycles):
    times = {name: [] for name, _ in rows}
    for _ in range(reps):
        for name, fn in rows:
            n = cycles // 10 if name == 'override hand-off' else cycles
            start = time.perf_counter()
            await fn(n)
            times[name].append((time.perf_counter() - start) / n * 1e6)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--reps', type=int, default=9)
    parser.add_argument('--cycles', type=int, default=20000)
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args()
    if args.quick:
        args.reps, args.cycles = 2, 200

    aiorwlock = load_aiorwlock()
    rows = scenarios(aiorwlock)
    times = asyncio.run(run(rows, args.reps, args.cycles))
    if args.quick:
        print(f'ok: {len(rows)} scenarios ran {args.reps} rounds each and left their locks idle'
              + ('' if aiorwlock else ' (aiorwlock: AIORWLOCK_PATH not set, skipped)'))
        return 0

    medians = {name: statistics.median(v) for name, v in times.items()}
    floor = medians['asyncio.Lock']
    print(f'{"scenario":<24} {"median µs":>10} {"min":>8} {"max":>8} {"× asyncio.Lock":>15}')
    for name, v in times.items():
        print(f'{name:<24} {medians[name]:>10.2f} {min(v):>8.2f} {max(v):>8.2f} '
              f'{medians[name] / floor:>15.1f}')
    result = {'bench': 'python-asyncio', 'reps': args.reps, 'cycles': args.cycles,
              'python': sys.version.split()[0], 'pygobject': gi.__version__,
              'median_us': medians,
              'ratio_reader_to_asyncio_lock': medians['override reader'] / floor}
    if aiorwlock is not None:
        ratio = medians['override reader'] / medians['aiorwlock reader']
        result['ratio_reader_to_aiorwlock'] = ratio
        result['ratio_reader_to_aiorwlock_fast'] = \
            medians['override reader'] / medians['aiorwlock fast reader']
        print(f'\noverride reader / aiorwlock reader (default RWLock()): {ratio:.2f}')
        print(f'override reader / aiorwlock reader (fast=True):        '
              f'{result["ratio_reader_to_aiorwlock_fast"]:.2f}')
    else:
        print('\naiorwlock: AIORWLOCK_PATH not set, its comparison skipped')
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
