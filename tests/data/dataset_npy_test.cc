#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "act/host/dataset.h"
#include "act/kernel/error.h"
#include "error_of.h"
#include "test_util.h"

namespace act::host {
namespace {

using act::test::ScratchDir;

double formula(bool u8, bool floating, std::int64_t i) {
  const double v =
      u8 ? static_cast<double>((i * 7 + 3) % 200) : static_cast<double>((i * 7 + 3) % 100 - 50);
  return floating ? v / 8.0 : v;
}

class NumpyFixtures : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!act::test::python_has("numpy")) GTEST_SKIP() << "python3 with numpy is not available";
    const std::string cmd = act::test::python() +
                            " " ACT_SOURCE_DIR "/tests/data/make_npy_fixtures.py " +
                            dir_.path().string();
    ASSERT_EQ(act::test::run(cmd), 0) << cmd;
  }
  ScratchDir dir_;
};

TEST_F(NumpyFixtures, ReadsEveryDtypeExactly) {
  const std::vector<std::pair<std::string, DType>> cases = {
      {"f4", DType::kF32}, {"f8", DType::kF64}, {"u1", DType::kU8},
      {"i1", DType::kI8},  {"i4", DType::kI32}, {"i8", DType::kI64}};
  for (const auto& [name, dtype] : cases) {
    Tensor t = load_npy(dir_.file(name + ".npy"));
    ASSERT_EQ(t.dtype(), dtype) << name;
    ASSERT_EQ(t.shape(), (Shape{3, 2, 5})) << name;
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      ASSERT_EQ(t.get_as_double(i), formula(name == "u1", name[0] == 'f', i))
          << name << " at " << i;
    }
  }
}

TEST_F(NumpyFixtures, ReadsHeaderVersions1To3) {
  for (const char* v : {"v1", "v2", "v3"}) {
    Tensor t = load_npy(dir_.file(std::string(v) + ".npy"));
    ASSERT_EQ(t.shape(), (Shape{4, 3})) << v;
    for (std::int64_t i = 0; i < t.numel(); ++i)
      ASSERT_EQ(t.get_as_double(i), formula(false, true, i));
  }
}

TEST_F(NumpyFixtures, RefusesFortranOrderAndBigEndian) {
  const std::string fortran = error_of([&] { load_npy(dir_.file("fortran.npy")); });
  EXPECT_NE(fortran.find("fortran.npy"), std::string::npos) << fortran;
  EXPECT_NE(fortran.find("Fortran order"), std::string::npos) << fortran;
  const std::string big = error_of([&] { load_npy(dir_.file("bigendian.npy")); });
  EXPECT_NE(big.find("big-endian"), std::string::npos) << big;
}

TEST_F(NumpyFixtures, ReadsStoredAndDeflatedNpz) {
  for (const char* name : {"stored.npz", "deflated.npz"}) {
    auto arrays = load_npz(dir_.file(name));
    ASSERT_EQ(arrays.size(), 2u) << name;
    auto ds = open_dataset(dir_.file(name));
    ASSERT_EQ(ds->size(), 6);
    EXPECT_EQ(ds->sample_shape(), (Shape{1, 4, 4}));
    ASSERT_TRUE(ds->has_labels());
    const std::vector<std::int64_t> idx = {5, 1};
    Batch b = ds->get(idx);
    for (int j = 0; j < 16; ++j) {
      ASSERT_EQ(b.images.data<float>()[j],
                static_cast<float>(formula(true, false, 5 * 16 + j)) / 255.0f);
      ASSERT_EQ(b.images.data<float>()[16 + j],
                static_cast<float>(formula(true, false, 16 + j)) / 255.0f);
    }
    EXPECT_EQ(b.labels->values<std::int64_t>()[0], 2);
    EXPECT_EQ(b.labels->values<std::int64_t>()[1], 1);
  }
}

TEST_F(NumpyFixtures, NpzKeysCanBeNamedAndMissingOnesAreListed) {
  const std::string missing = error_of([&] { open_dataset(dir_.file("named.npz")); });
  EXPECT_NE(missing.find("named.npz"), std::string::npos) << missing;
  EXPECT_NE(missing.find("pics"), std::string::npos) << missing;
  DatasetOptions opt;
  opt.images_key = "pics";
  opt.labels_key = "cls";
  auto ds = open_dataset(dir_.file("named.npz"), opt);
  EXPECT_EQ(ds->size(), 6);
  EXPECT_TRUE(ds->has_labels());
}

TEST_F(NumpyFixtures, CorruptNpzIsAnError) {
  auto bytes = act::test::read_bytes(dir_.file("deflated.npz"));
  // Flip bytes in the middle of the first entry's compressed data.
  for (std::size_t i = 80; i < 120 && i < bytes.size(); ++i) bytes[i] ^= 0x5A;
  act::test::write_bytes(dir_.file("corrupt.npz"), bytes);
  const std::string e = error_of([&] { load_npz(dir_.file("corrupt.npz")); });
  EXPECT_NE(e.find("corrupt.npz"), std::string::npos) << e;

  bytes = act::test::read_bytes(dir_.file("stored.npz"));
  bytes.resize(bytes.size() / 2);
  act::test::write_bytes(dir_.file("half.npz"), bytes);
  const std::string half = error_of([&] { load_npz(dir_.file("half.npz")); });
  EXPECT_NE(half.find("half.npz"), std::string::npos) << half;
}

TEST_F(NumpyFixtures, SavedNpyLoadsInNumpy) {
  Tensor t = Tensor::from_vector<float>({2, 3}, {1.5f, -2.0f, 0.25f, 3.0f, 1e-3f, -7.0f});
  const std::string path = dir_.file("mine.npy");
  save_npy(path, t);
  const std::string cmd =
      act::test::python() + " -c \"import numpy as np; a = np.load('" + path +
      "'); assert a.dtype == np.float32 and a.shape == (2, 3), a; "
      "assert (a == np.array([[1.5, -2, 0.25], [3, 1e-3, -7]], dtype=np.float32)).all(), a\"";
  EXPECT_EQ(act::test::run(cmd), 0);
}

TEST(DatasetNpy, SaveLoadRoundTripsEveryDtype) {
  ScratchDir dir;
  const std::vector<DType> dtypes = {DType::kF32, DType::kF64, DType::kU8,
                                     DType::kI8,  DType::kI32, DType::kI64};
  for (DType d : dtypes) {
    Tensor t = Tensor::from_vector<double>({2, 3, 4},
                                           [] {
                                             std::vector<double> v(24);
                                             for (int i = 0; i < 24; ++i)
                                               v[static_cast<std::size_t>(i)] = i * 3 % 17;
                                             return v;
                                           }())
                   .cast(d);
    const std::string path = dir.file("rt.npy");
    save_npy(path, t);
    Tensor back = load_npy(path);
    ASSERT_EQ(back.dtype(), d);
    ASSERT_EQ(back.shape(), t.shape());
    for (std::int64_t i = 0; i < t.numel(); ++i)
      ASSERT_EQ(back.get_as_double(i), t.get_as_double(i));
  }
  // Rank 1 and 0 shapes need the tuple's trailing comma / empty tuple.
  for (const Shape& s : {Shape{5}, Shape{}}) {
    Tensor t = Tensor::zeros(DType::kI64, s);
    save_npy(dir.file("s.npy"), t);
    EXPECT_EQ(load_npy(dir.file("s.npy")).shape(), s);
  }
}

TEST(DatasetNpy, TruncatedDataNamesFileAndSizes) {
  ScratchDir dir;
  save_npy(dir.file("t.npy"), Tensor::zeros(DType::kF32, {10, 4}));
  auto bytes = act::test::read_bytes(dir.file("t.npy"));
  bytes.resize(bytes.size() - 40);
  act::test::write_bytes(dir.file("t.npy"), bytes);
  const std::string e = error_of([&] { load_npy(dir.file("t.npy")); });
  EXPECT_NE(e.find("t.npy: truncated: expected 160 bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("got 120"), std::string::npos) << e;
}

TEST(DatasetNpy, HandWrittenFortranHeaderIsRefused) {
  ScratchDir dir;
  std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::vector<std::uint8_t> bytes = {
      0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<std::uint8_t>(header.size()), 0};
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.resize(bytes.size() + 16, 0);
  act::test::write_bytes(dir.file("f.npy"), bytes);
  const std::string e = error_of([&] { load_npy(dir.file("f.npy")); });
  EXPECT_NE(e.find("f.npy: array is in Fortran order"), std::string::npos) << e;
}

TEST(DatasetNpy, NanAndInfAreNamedWithIndex) {
  ScratchDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  save_npy(dir.file("nan.npy"), Tensor::from_vector<float>({2, 3}, {0, 1, 2, nan, 4, 5}));
  std::string e = error_of([&] { open_dataset(dir.file("nan.npy")); });
  EXPECT_NE(e.find("nan.npy: NaN at index 3"), std::string::npos) << e;
  const double inf = std::numeric_limits<double>::infinity();
  save_npy(dir.file("inf.npy"), Tensor::from_vector<double>({2, 2}, {0, 1, 2, -inf}));
  e = error_of([&] { open_dataset(dir.file("inf.npy")); });
  EXPECT_NE(e.find("inf.npy: Inf at index 3"), std::string::npos) << e;
}

TEST(DatasetNpy, NpyWithSeparateLabelsAndNhwc) {
  ScratchDir dir;
  // NHWC [2, 2, 2, 3] -> NCHW [2, 3, 2, 2]: value = 100 * n + 10 * c + pixel.
  std::vector<float> v;
  for (int n = 0; n < 2; ++n)
    for (int p = 0; p < 4; ++p)
      for (int c = 0; c < 3; ++c) v.push_back(static_cast<float>(100 * n + 10 * c + p));
  save_npy(dir.file("x.npy"), Tensor::from_vector<float>({2, 2, 2, 3}, v));
  save_npy(dir.file("y.npy"), Tensor::from_vector<std::int32_t>({2}, {4, 1}));
  DatasetOptions opt;
  opt.labels_path = dir.file("y.npy");
  auto ds = open_dataset(dir.file("x.npy"), opt);
  ASSERT_EQ(ds->sample_shape(), (Shape{3, 2, 2}));
  const std::vector<std::int64_t> idx = {1};
  Batch b = ds->get(idx);
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 4; ++p)
      EXPECT_EQ(b.images.data<float>()[c * 4 + p], static_cast<float>(100 + 10 * c + p));
  EXPECT_EQ(b.labels->values<std::int64_t>()[0], 1);

  save_npy(dir.file("y3.npy"), Tensor::from_vector<std::int64_t>({3}, {0, 1, 2}));
  opt.labels_path = dir.file("y3.npy");
  const std::string e = error_of([&] { open_dataset(dir.file("x.npy"), opt); });
  EXPECT_NE(e.find("y3.npy: 3 labels for 2 samples"), std::string::npos) << e;
}

}  // namespace
}  // namespace act::host
