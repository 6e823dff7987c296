#include "act/kernel/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "act/kernel/device.h"

namespace act {
namespace {

TEST(Tensor, CopySharesStorageCloneDoesNot) {
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = a;
  Tensor c = a.clone();
  a.data<float>()[0] = 42;
  EXPECT_EQ(b.data<float>()[0], 42);
  EXPECT_EQ(c.data<float>()[0], 1);
}

TEST(Tensor, WrongTypedAccessThrows) {
  Tensor a = Tensor::from_vector<std::int64_t>({1}, {7});
  EXPECT_THROW((void)a.data<float>(), Error);
  EXPECT_EQ(a.get_as_int(0), 7);
}

TEST(Tensor, ReshapeKeepsElementCount) {
  Tensor a = Tensor::zeros(DType::kF32, {2, 3});
  EXPECT_EQ(a.reshaped({3, 2}).dim(0), 3);
  EXPECT_THROW((void)a.reshaped({4, 2}), Error);
}

TEST(Tensor, CastTruncatesAndSaturates) {
  Tensor a = Tensor::from_vector<float>({4}, {1.7F, -1.7F, 300.0F, -300.0F});
  Tensor b = a.cast(DType::kI8);
  EXPECT_EQ(b.data<std::int8_t>()[0], 1);
  EXPECT_EQ(b.data<std::int8_t>()[1], -1);
  EXPECT_EQ(b.data<std::int8_t>()[2], 127);
  EXPECT_EQ(b.data<std::int8_t>()[3], -128);
}

TEST(Half, RoundTripsRepresentableValuesAndRoundsToNearestEven) {
  for (float v : {0.0F, 1.0F, -2.5F, 65504.0F, 6.1035156e-05F, 5.9604645e-08F}) {
    EXPECT_EQ(half_to_float(float_to_half(v)), v) << v;
  }
  EXPECT_EQ(float_to_half(1.0F + 1.0F / 2048.0F), float_to_half(1.0F));  // tie -> even
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(70000.0F))));
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
}

}  // namespace
}  // namespace act

namespace act {
namespace {

TEST(CpuAllocator, LargeBlocksAreReusedAndEveryBlockIsAligned) {
  Allocator& a = allocator_for(Device::cpu());
  const std::size_t big = std::size_t{3} << 20;
  void* p = a.allocate(big);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0U);
  std::memset(p, 1, big);  // the whole block is usable
  a.deallocate(p, big);
  void* q = a.allocate(big - 100);  // same 4 KiB-rounded size: served from the cache
  EXPECT_EQ(q, p);
  a.deallocate(q, big - 100);
  for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{4097}}) {
    void* s = a.allocate(bytes);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s) % 64, 0U) << bytes << " bytes";
    a.deallocate(s, bytes);
  }
}

}  // namespace
}  // namespace act

namespace act {
namespace {

// Kernels cache what they derive from a tensor (a Conv's packed weights) under its version, so
// reads must leave the version alone and every mutable access must move it. When const reads
// bumped it, every Conv call repacked its weights (docs/decisions.md, Kernel).
TEST(TensorVersion, ConstReadsLeaveItAndMutableAccessBumpsIt) {
  Tensor t(DType::kF32, {4});
  const Tensor& read_only = t;
  const std::uint64_t before = t.version();
  EXPECT_NE(read_only.data<float>(), nullptr);
  EXPECT_NE(read_only.raw_data(), nullptr);
  EXPECT_EQ(read_only.values<float>().size(), 4U);
  EXPECT_EQ(t.version(), before);
  t.data<float>()[0] = 1.0F;
  const std::uint64_t after_write = t.version();
  EXPECT_GT(after_write, before);
  const Tensor view = t.reshaped({2, 2});  // shares the storage, and so the version
  EXPECT_EQ(view.version(), after_write);
  EXPECT_FLOAT_EQ(view.data<float>()[0], 1.0F);
  EXPECT_EQ(t.version(), after_write);
}

}  // namespace
}  // namespace act
