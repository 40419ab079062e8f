#include <weft/sched/frame_allocator.hpp>

#include <vector>

#include <catch2/catch.hpp>

using weft::sched::frame_cache;

TEST_CASE("a freed frame is reused for the next frame of its size class", "[frames]") {
  frame_cache c;
  void* a = c.allocate(100);
  c.deallocate(a, 100);
  CHECK(c.cached_blocks() == 1);
  void* b = c.allocate(97);  // same 16-byte class as 100 (97..112)
  CHECK(b == a);
  CHECK(c.cached_blocks() == 0);
  c.deallocate(b, 97);
}

TEST_CASE("the frame cache keeps at most max_per_class blocks per class", "[frames]") {
  frame_cache c;
  std::vector<void*> blocks;
  for (std::uint32_t i = 0; i < frame_cache::max_per_class + 10; ++i) blocks.push_back(c.allocate(64));
  for (void* p : blocks) c.deallocate(p, 64);
  CHECK(c.cached_blocks() == frame_cache::max_per_class);
  c.release_all();
  CHECK(c.cached_blocks() == 0);
}

TEST_CASE("frames up to 4 KiB are cached; a large class keeps fewer blocks", "[frames]") {
  frame_cache c;
  void* a = c.allocate(3000);
  c.deallocate(a, 3000);
  CHECK(c.cached_blocks() == 1);
  void* b = c.allocate(2995);  // same 16-byte class as 3000 (2993..3008): reused, no malloc
  CHECK(b == a);
  c.deallocate(b, 2995);
  c.release_all();
  // 4 KiB blocks: 256 KiB worth, 64 of them.
  STATIC_REQUIRE(frame_cache::limit_of(frame_cache::class_of(4096)) == 64);
  STATIC_REQUIRE(frame_cache::limit_of(frame_cache::class_of(1024)) == frame_cache::max_per_class);
  STATIC_REQUIRE(frame_cache::limit_of(frame_cache::class_of(64)) == frame_cache::max_per_class);
  std::vector<void*> blocks;
  for (int i = 0; i < 70; ++i) blocks.push_back(c.allocate(4096));
  for (void* p : blocks) c.deallocate(p, 4096);
  CHECK(c.cached_blocks() == 64);
  c.release_all();
  // Above the limit: the heap, never cached.
  auto* prev = weft::sched::install_frame_cache(&c);
  void* big = weft::sched::allocate_frame(5000);
  weft::sched::deallocate_frame(big, 5000);
  CHECK(c.cached_blocks() == 0);
  weft::sched::install_frame_cache(prev);
}

TEST_CASE("frames allocated without a cache can be freed into one and back", "[frames]") {
  void* p = weft::sched::allocate_frame(200);  // no cache installed on this thread: the heap
  frame_cache c;
  auto* prev = weft::sched::install_frame_cache(&c);
  weft::sched::deallocate_frame(p, 200);  // into the cache
  CHECK(c.cached_blocks() == 1);
  void* q = weft::sched::allocate_frame(200);
  CHECK(q == p);
  weft::sched::install_frame_cache(prev);
  weft::sched::deallocate_frame(q, 200);  // back to the heap
  CHECK(c.cached_blocks() == 0);
}
