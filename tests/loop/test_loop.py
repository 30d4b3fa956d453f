"""The event loop: timers on a virtual clock, descriptors, thread-safe calls, error survival."""

import os
import socket
import threading

from tipring.firmware.loop import EventLoop, VirtualClock
from tipring.firmware.loop.udp import UdpEndpoint


def test_virtual_clock_jumps_to_next_timer_without_sleeping():
    clock = VirtualClock()
    loop = EventLoop(clock)
    fired = []
    loop.call_at(32.0, fired.append, "B")
    loop.call_at(0.5, fired.append, "A")
    loop.run(until=lambda: len(fired) == 2)
    assert fired == ["A", "B"]
    assert clock.now() == 32.0
    loop.close()


def test_cancelled_timer_never_fires_and_timers_fire_in_order_of_time_then_schedule():
    loop = EventLoop(VirtualClock())
    out = []
    t = loop.call_at(1.0, out.append, "cancelled")
    loop.call_at(1.0, out.append, "first")
    loop.call_at(1.0, out.append, "second")
    t.cancel()
    loop.run_for(2.0)
    assert out == ["first", "second"]
    loop.close()


def test_handler_exception_is_reported_and_loop_goes_on():
    errors = []
    loop = EventLoop(VirtualClock(), on_error=lambda where, exc: errors.append((where, str(exc))))
    out = []

    def boom():
        raise RuntimeError("garbled frame")

    loop.call_at(1.0, boom)
    loop.call_at(2.0, out.append, "after")
    loop.run_for(3.0)
    assert out == ["after"]
    assert errors and errors[0][1] == "garbled frame"
    loop.close()


def test_call_soon_threadsafe_wakes_a_real_loop_from_another_thread():
    loop = EventLoop()
    got = []
    th = threading.Thread(target=lambda: loop.call_soon_threadsafe(got.append, ("hook", 1.0, True)))
    loop.call_later(5.0, loop.stop)  # safety net; the test ends long before
    th.start()
    loop.run(until=lambda: bool(got))
    th.join()
    assert got == [("hook", 1.0, True)]
    loop.close()


def test_reader_gets_data_from_a_pipe():
    loop = EventLoop()
    r, w = os.pipe()
    seen = []
    loop.add_reader(r, lambda fd, ev: seen.append(os.read(fd, 100)))
    os.write(w, b"hello")
    loop.run(until=lambda: bool(seen))
    assert seen == [b"hello"]
    loop.remove_reader(r)
    os.close(r), os.close(w)
    loop.close()


def test_udp_endpoint_receives_and_sends_on_loopback():
    loop = EventLoop()
    got = []
    ep = UdpEndpoint(loop, "127.0.0.1", 0, lambda d, a: got.append((d, a)))
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.sendto(b"OPTIONS", ep.address)
    loop.call_later(5.0, loop.stop)
    loop.run(until=lambda: bool(got))
    assert got[0][0] == b"OPTIONS" and got[0][1] == peer.getsockname()
    assert ep.send(b"SIP/2.0 200 OK", got[0][1])
    peer.settimeout(2)
    assert peer.recvfrom(100)[0] == b"SIP/2.0 200 OK"
    ep.close(); ep.close()
    peer.close()
    loop.close()


def test_cancelled_far_timers_do_not_pile_up_in_the_heap():
    # a 60 s no-answer timer per call, cancelled when the call is answered: 10 000 calls
    loop = EventLoop(VirtualClock())
    fired = []
    keep = loop.call_later(30.0, fired.append, "kept")
    for i in range(10000):
        loop.call_later(60.0 + i, fired.append, i).cancel()
    assert len(loop._timers) <= 130                       # rebuilt, not 10 001 entries
    late = loop.call_later(5.0, fired.append, "late")
    assert loop.next_deadline() == loop.now() + 5.0
    loop.call_later(40.0, loop.stop)
    loop.run()
    assert fired == ["late", "kept"]
    n = loop._cancelled
    late.cancel()                                         # a fired timer: nothing to count
    keep.cancel()
    assert loop._cancelled == n


def test_media_readers_and_due_timers_come_before_signalling_in_a_turn():
    """Rule 5: in one turn, media descriptors first, then due timers, then the rest."""
    loop = EventLoop(VirtualClock())
    order = []
    sig_r, sig_w = os.pipe()
    med_r, med_w = os.pipe()
    try:
        loop.add_reader(sig_r, lambda fd, ev: (os.read(fd, 16), order.append("sip")))
        loop.add_reader(med_r, lambda fd, ev: (os.read(fd, 16), order.append("rtp")), media=True)
        loop.call_at(0.0, order.append, "tick")
        os.write(sig_w, b"x")
        os.write(med_w, b"x")
        loop.run_once()
        assert order == ["rtp", "tick", "sip"]
        # changing the mask keeps the media flag
        loop.add_reader(med_r, lambda fd, ev: (os.read(fd, 16), order.append("rtp2")))
        os.write(sig_w, b"x")
        os.write(med_w, b"x")
        loop.run_once()
        assert order[3:] == ["rtp2", "sip"]
    finally:
        for fd in (sig_r, sig_w, med_r, med_w):
            os.close(fd)
        loop.close()


def test_udp_endpoint_reads_a_bounded_batch_per_turn():
    loop = EventLoop(VirtualClock())
    got = []
    ep = UdpEndpoint(loop, "127.0.0.1", 0, lambda d, a: got.append(d), batch=8)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i in range(20):
            tx.sendto(b"%d" % i, ep.address)
        loop.run_once()
        assert len(got) == 8            # the rest waits for the next turn
        loop.run_once()
        loop.run_once()
        assert got == [b"%d" % i for i in range(20)]
    finally:
        tx.close()
        ep.close()
        loop.close()
