// The machinery behind overhead/ping_pong and overhead/ipc delivers: the shm_ring keeps bytes intact across
// wrap-around and partial transfers, every channel carries messages intact to a thread peer and a process peer,
// every ping-pong mechanism answers every ping, and a peer that dies makes the caller's call fail, not hang.

#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "ipc.hpp"
#include "peer.hpp"
#include "ping_pong.hpp"
#include "shm_ring.hpp"

namespace {

namespace ipc = parbench::bench::ipc;
using ipc::shm_ring;
using namespace std::chrono_literals;

std::string pattern(std::size_t n, unsigned salt) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + std::size_t{salt} * 7 + (i >> 8)) & 0xff);
    return s;
}

TEST(ShmRing, RoundsCapacityUpToAPowerOfTwo) {
    EXPECT_EQ(shm_ring(1).capacity(), 64u);
    EXPECT_EQ(shm_ring(100).capacity(), 128u);
    EXPECT_EQ(shm_ring(4096).capacity(), 4096u);
}

TEST(ShmRing, PartialTransfersWhenFullOrEmpty) {
    shm_ring r(64);
    const std::string in = pattern(100, 1);
    EXPECT_EQ(r.try_write(in.data(), in.size()), 64u);  // only what fits
    EXPECT_EQ(r.try_write(in.data(), 1), 0u);
    std::string out(100, '\0');
    EXPECT_EQ(r.try_read(out.data(), 40), 40u);
    EXPECT_EQ(r.try_write(in.data() + 64, 36), 36u);  // wraps around the end
    EXPECT_EQ(r.try_read(out.data() + 40, 100), 60u);
    EXPECT_EQ(r.try_read(out.data(), 1), 0u);
    EXPECT_EQ(out, in);
}

TEST(ShmRing, WrapsAroundManyTimesIntact) {
    shm_ring r(64);
    std::uint64_t total = 0;
    for (unsigned i = 0; i < 1000; ++i) {
        const std::string in = pattern(1 + i % 63, i);  // odd sizes: the split point moves all around the ring
        ASSERT_EQ(r.try_write(in.data(), in.size()), in.size());
        std::string out(in.size(), '\0');
        ASSERT_EQ(r.try_read(out.data(), out.size()), out.size());
        ASSERT_EQ(out, in) << "message " << i;
        total += in.size();
    }
    EXPECT_GT(total, 64u * 100);
}

TEST(ShmRing, BlockingTransferBetweenThreadsLargerThanTheRing) {
    shm_ring r(256);
    const std::string in = pattern(1 << 20, 3);
    std::thread producer([&] {
        // Uneven pieces, so reads and writes never line up with each other or with the ring.
        for (std::size_t off = 0; off < in.size();) {
            const std::size_t n = std::min<std::size_t>(in.size() - off, 1 + (off % 977));
            ASSERT_EQ(r.write(in.data() + off, n, 5s), n);
            off += n;
        }
    });
    std::string out(in.size(), '\0');
    for (std::size_t off = 0; off < out.size();) {
        const std::size_t n = std::min<std::size_t>(out.size() - off, 1 + (off % 1499));
        ASSERT_EQ(r.read(out.data() + off, n, 5s), n);
        off += n;
    }
    producer.join();
    EXPECT_EQ(out, in);
}

TEST(ShmRing, CloseEndsAReaderAfterTheRemainingBytes) {
    shm_ring r(64);
    ASSERT_EQ(r.write("abc", 3), 3u);
    std::thread closer([&] {
        std::this_thread::sleep_for(10ms);
        r.close();
    });
    char out[8] = {};
    EXPECT_EQ(r.read(out, sizeof out), 3u);  // parks, then sees the close
    closer.join();
    EXPECT_EQ(std::string(out, 3), "abc");
}

TEST(ShmRing, GivesUpAfterItsPatience) {
    shm_ring r(64);
    char c = 0;
    EXPECT_EQ(r.read(&c, 1, 20ms), 0u);
    const std::string full = pattern(64, 0);
    ASSERT_EQ(r.try_write(full.data(), 64), 64u);
    EXPECT_EQ(r.write(full.data(), 1, 20ms), 0u);
}

TEST(ShmRing, CarriesDataFromAForkedChild) {
    shm_ring r(4096);
    const std::string in = pattern(300'000, 5);
    struct no_hooks : ipc::no_hooks {
    } hooks;
    ipc::peer child(ipc::peer_kind::process, hooks,
                    [&] { return r.write(in.data(), in.size(), 5s) == in.size() ? ipc::peer_ok : ipc::peer_io_error; });
    std::string out(in.size(), '\0');
    EXPECT_EQ(r.read(out.data(), out.size(), 5s), out.size());
    EXPECT_EQ(child.finish(), std::nullopt);
    EXPECT_EQ(out, in);
}

// --- channels -------------------------------------------------------------------------------------------------

template <class C>
class Channel : public ::testing::Test {};
using channels =
    ::testing::Types<ipc::pipe_channel, ipc::socketpair_channel, ipc::posix_mq_channel, ipc::shm_ring_channel>;
TYPED_TEST_SUITE(Channel, channels);

// Round trips of whole messages whose content is compared byte for byte, not only their sequence stamps.
template <class C>
void echo_intact(ipc::peer_kind kind, std::size_t size, unsigned messages) {
    C ch;
    ipc::peer p(kind, ch, [&ch, size] { return ipc::serve_messages(ch, size, true); });
    for (unsigned i = 0; i < messages; ++i) {
        std::string out = pattern(size, i);
        ipc::stamp(out.data(), size, i);
        std::string in(size, '\0');
        ASSERT_TRUE(ch.send(ipc::side::caller, out.data(), size)) << "message " << i;
        ASSERT_TRUE(ch.recv(ipc::side::caller, in.data(), size)) << "message " << i;
        ASSERT_EQ(in, out) << "message " << i;
    }
    EXPECT_EQ(ipc::stop_messages(ch, size), messages);
    EXPECT_EQ(p.finish(), std::nullopt);
}

// One-way: the peer counts what arrived intact and in order.
template <class C>
void one_way_counted(ipc::peer_kind kind, std::size_t size, unsigned messages) {
    C ch;
    ipc::peer p(kind, ch, [&ch, size] { return ipc::serve_messages(ch, size, false); });
    std::string out = pattern(size, 9);
    for (unsigned i = 0; i < messages; ++i) {
        ipc::stamp(out.data(), size, i);
        ASSERT_TRUE(ch.send(ipc::side::caller, out.data(), size)) << "message " << i;
    }
    EXPECT_EQ(ipc::stop_messages(ch, size), messages);
    EXPECT_EQ(p.finish(), std::nullopt);
}

TYPED_TEST(Channel, SmallAndOddMessagesToAThread) {
    for (const std::size_t size : {8u, 9u, 17u, 4096u, 8193u}) echo_intact<TypeParam>(ipc::peer_kind::thread, size, 50);
}

TYPED_TEST(Channel, MessagesLargerThanAnyBufferToAThread) {
    // 1 MiB + 3: more than a pipe, a socket buffer, a queue or the ring holds, so every transfer is partial.
    echo_intact<TypeParam>(ipc::peer_kind::thread, (1u << 20) + 3, 4);
    one_way_counted<TypeParam>(ipc::peer_kind::thread, 100'003, 40);
}

TYPED_TEST(Channel, MessagesToAProcess) {
    echo_intact<TypeParam>(ipc::peer_kind::process, 8, 200);
    echo_intact<TypeParam>(ipc::peer_kind::process, 300'001, 3);
    one_way_counted<TypeParam>(ipc::peer_kind::process, 65'536, 50);
}

// Dead-peer tests run as bench_parallel does, with SIGPIPE ignored: a write racing the peer's exit would
// otherwise kill the test process instead of failing the call; a loaded machine decides that race either way.
class ChannelFailure : public ::testing::Test {
protected:
    void SetUp() override {
        ::sigaction(SIGPIPE, nullptr, &saved_);
        ipc::ignore_sigpipe();
    }
    void TearDown() override { ::sigaction(SIGPIPE, &saved_, nullptr); }

private:
    struct sigaction saved_ {};
};
using PingPongFailure = ChannelFailure;

TEST_F(ChannelFailure, APeerThatDiesFailsTheCallInsteadOfHanging) {
    ipc::socketpair_channel ch;
    ipc::peer p(ipc::peer_kind::process, ch, [] { return 7; });
    char buf[8] = {};
    EXPECT_FALSE(ch.recv(ipc::side::caller, buf, sizeof buf));  // EOF: the child's end closed with it
    EXPECT_EQ(p.why_failed(), "peer returned 7");
}

TEST_F(ChannelFailure, ARingPeerThatDiesIsNoticedAfterThePatience) {
    ipc::shm_ring_channel ch;
    ipc::peer p(ipc::peer_kind::process, ch, [] { return ipc::peer_bad_data; });
    std::uint64_t good = 0;
    EXPECT_FALSE(ch.recv(ipc::side::caller, &good, sizeof good));
    EXPECT_EQ(p.why_failed(), ipc::describe_peer_code(ipc::peer_bad_data));
}

// --- ping-pong ------------------------------------------------------------------------------------------------

template <class M, ipc::peer_kind Kind>
struct mechanism {
    using type = M;
    static constexpr ipc::peer_kind kind = Kind;
};

template <class T>
class PingPong : public ::testing::Test {};
using mechanisms = ::testing::Types<
    mechanism<ipc::condvar_ping_pong, ipc::peer_kind::thread>, mechanism<ipc::futex_ping_pong, ipc::peer_kind::thread>,
    mechanism<ipc::spin_ping_pong, ipc::peer_kind::thread>, mechanism<ipc::pipe_ping_pong, ipc::peer_kind::thread>,
    mechanism<ipc::pipe_ping_pong, ipc::peer_kind::process>, mechanism<ipc::futex_ping_pong, ipc::peer_kind::process>,
    mechanism<ipc::spin_ping_pong, ipc::peer_kind::process>>;
TYPED_TEST_SUITE(PingPong, mechanisms);

TYPED_TEST(PingPong, EveryPingIsAnsweredThenThePeerStopsCleanly) {
    typename TypeParam::type m;
    ipc::peer p(TypeParam::kind, m, [&m] { return m.serve(); });
    // Spinners need both sides on a CPU at once: on a loaded 2-core box each round trip may wait a time slice.
    constexpr unsigned pings = std::is_same_v<typename TypeParam::type, ipc::spin_ping_pong> ? 20 : 2000;
    unsigned answered = 0;
    for (unsigned i = 0; i < pings; ++i) answered += m.ping() ? 1u : 0u;
    EXPECT_EQ(answered, pings);
    m.stop();
    EXPECT_EQ(p.finish(), std::nullopt);
}

TYPED_TEST(PingPong, PinnedToOneCpu) {
    const ipc::pin_scope pin;
    if (!pin.ok()) GTEST_SKIP() << "sched_setaffinity refused here";
    typename TypeParam::type m;
    ipc::peer p(TypeParam::kind, m, [&m] { return m.serve(); });
    // Few pings: a pinned spinner waits a whole time slice for its peer.
    unsigned answered = 0;
    for (unsigned i = 0; i < 5; ++i) answered += m.ping() ? 1u : 0u;
    EXPECT_EQ(answered, 5u);
    m.stop();
    EXPECT_EQ(p.finish(), std::nullopt);
}

TEST_F(PingPongFailure, ADeadPipePeerFailsThePing) {
    ipc::pipe_ping_pong m;
    ipc::peer p(ipc::peer_kind::process, m, [] { return 9; });
    EXPECT_FALSE(m.ping());
    EXPECT_EQ(p.why_failed(), "peer returned 9");
}

// The same race decided the other way every time: the peer is gone before the ping writes (EPIPE, not SIGPIPE).
TEST_F(PingPongFailure, APipePeerAlreadyGoneFailsThePingWithoutASignal) {
    ipc::pipe_ping_pong m;
    ipc::peer p(ipc::peer_kind::process, m, [] { return 9; });
    EXPECT_EQ(p.finish(), "peer returned 9");
    EXPECT_FALSE(m.ping());
}

TEST_F(PingPongFailure, AKilledFutexPeerFailsThePingAfterThePatience) {
    ipc::futex_ping_pong m;
    ipc::peer p(ipc::peer_kind::process, m, [] {
        ::raise(SIGKILL);
        return 0;
    });
    EXPECT_FALSE(m.ping());
    EXPECT_EQ(p.why_failed(), "peer process ended by signal 9 (Killed)");
}

}  // namespace
