#include <cmath>
#include <filesystem>
#include <functional>

#include "act/host/dataset.h"
#include "act/kernel/error.h"
#include "error_of.h"
#include "test_util.h"

namespace act::host {
namespace {

using act::test::ScratchDir;
namespace fs = std::filesystem;

Tensor pattern(std::int64_t h, std::int64_t w, std::int64_t c, int seed) {
  Tensor t(DType::kU8, {h, w, c});
  auto* p = t.data<std::uint8_t>();
  for (std::int64_t i = 0; i < t.numel(); ++i)
    p[i] = static_cast<std::uint8_t>((i * 29 + seed * 71) % 256);
  return t;
}

TEST(DatasetImage, PngRoundTripsExactly) {
  ScratchDir dir;
  for (int c : {1, 3}) {
    Tensor img = pattern(5, 7, c, c);
    const std::string path = dir.file(c == 1 ? "p1.png" : "p3.png");
    write_png(path, img);
    Tensor back = read_image(path, c);
    ASSERT_EQ(back.shape(), img.shape());
    for (std::int64_t i = 0; i < img.numel(); ++i)
      ASSERT_EQ(back.data<std::uint8_t>()[i], img.data<std::uint8_t>()[i]);
  }
  // Gray read as RGB replicates the channel.
  Tensor rgb = read_image(dir.file("p1.png"), 3);
  ASSERT_EQ(rgb.shape(), (Shape{5, 7, 3}));
  for (std::int64_t i = 0; i < 35; ++i) {
    for (int ch = 0; ch < 3; ++ch)
      ASSERT_EQ(rgb.data<std::uint8_t>()[i * 3 + ch], pattern(5, 7, 1, 1).data<std::uint8_t>()[i]);
  }
}

TEST(DatasetImage, JpegRoundTripsClosely) {
  ScratchDir dir;
  // A smooth gradient survives quality-100 JPEG within a few levels.
  for (int c : {1, 3}) {
    Tensor img(DType::kU8, {16, 24, c});
    for (std::int64_t y = 0; y < 16; ++y)
      for (std::int64_t x = 0; x < 24; ++x)
        for (int ch = 0; ch < c; ++ch)
          img.data<std::uint8_t>()[(y * 24 + x) * c + ch] =
              static_cast<std::uint8_t>(40 + 4 * x + 3 * y + 20 * ch);
    const std::string path = dir.file("j.jpg");
    write_jpeg(path, img, 100);
    Tensor back = read_image(path, c);
    ASSERT_EQ(back.shape(), img.shape());
    for (std::int64_t i = 0; i < img.numel(); ++i) {
      ASSERT_NEAR(back.data<std::uint8_t>()[i], img.data<std::uint8_t>()[i], 4)
          << "c=" << c << " i=" << i;
    }
  }
}

TEST(DatasetImage, CorruptFilesNameThePath) {
  ScratchDir dir;
  write_png(dir.file("ok.png"), pattern(8, 8, 3, 0));
  auto bytes = act::test::read_bytes(dir.file("ok.png"));
  bytes.resize(bytes.size() / 2);
  act::test::write_bytes(dir.file("cut.png"), bytes);
  std::string e = error_of([&] { read_image(dir.file("cut.png"), 3); });
  EXPECT_NE(e.find("cut.png: cannot decode PNG"), std::string::npos) << e;

  write_jpeg(dir.file("ok.jpg"), pattern(8, 8, 3, 0));
  bytes = act::test::read_bytes(dir.file("ok.jpg"));
  bytes.resize(bytes.size() / 3);
  act::test::write_bytes(dir.file("cut.jpg"), bytes);
  // libjpeg only warns on a truncated scan (and pads with gray); we make that an error.
  e = error_of([&] { read_image(dir.file("cut.jpg"), 3); });
  EXPECT_NE(e.find("cut.jpg: cannot decode JPEG"), std::string::npos) << e;

  act::test::write_bytes(dir.file("text.png"), {'h', 'e', 'l', 'l', 'o', '!', '!', '!', '!'});
  e = error_of([&] { read_image(dir.file("text.png"), 1); });
  EXPECT_NE(e.find("text.png: not a PNG or JPEG"), std::string::npos) << e;
}

TEST(DatasetImage, BilinearResizeUsesHalfPixelCenters) {
  const std::vector<float> src = {0.0f, 1.0f};
  const auto up = resize_bilinear(src.data(), 1, 2, 1, 1, 4);
  ASSERT_EQ(up.size(), 4u);
  EXPECT_FLOAT_EQ(up[0], 0.0f);
  EXPECT_FLOAT_EQ(up[1], 0.25f);
  EXPECT_FLOAT_EQ(up[2], 0.75f);
  EXPECT_FLOAT_EQ(up[3], 1.0f);
  const std::vector<float> flat(6 * 4 * 3, 0.5f);
  for (float v : resize_bilinear(flat.data(), 6, 4, 3, 3, 7)) EXPECT_FLOAT_EQ(v, 0.5f);
  // 2x2 -> 1x1 averages the four pixels.
  const std::vector<float> four = {0, 1, 2, 3};
  EXPECT_FLOAT_EQ(resize_bilinear(four.data(), 2, 2, 1, 1, 1)[0], 1.5f);
}

TEST(DatasetImage, FolderMapsSortedClassNamesToIndices) {
  ScratchDir dir;
  // Created out of order, with a stray file and a hidden folder that must be ignored.
  for (const char* cls : {"zebra", "ant", "moose", ".hidden"})
    fs::create_directories(dir.path() / cls);
  write_png((dir.path() / "zebra" / "b.png").string(), pattern(10, 12, 3, 1));
  write_png((dir.path() / "zebra" / "a.PNG").string(), pattern(12, 10, 3, 2));
  write_jpeg((dir.path() / "ant" / "x.jpeg").string(), pattern(20, 30, 3, 3));
  write_png((dir.path() / "moose" / "m.png").string(), pattern(9, 9, 1, 4));
  write_png((dir.path() / ".hidden" / "h.png").string(), pattern(9, 9, 1, 4));
  act::test::write_bytes((dir.path() / "moose" / "notes.txt").string(), {'x'});

  DatasetOptions opt;
  opt.resize = 8;
  opt.crop = 6;
  opt.normalization.mean = {0.5f, 0.5f, 0.5f};
  opt.normalization.std = {0.5f};
  auto ds = open_dataset(dir.path().string(), opt);
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"ant", "moose", "zebra"}));
  ASSERT_EQ(ds->size(), 4);
  EXPECT_EQ(ds->sample_shape(), (Shape{3, 6, 6}));
  const std::vector<std::int64_t> idx = {0, 1, 2, 3};
  Batch b = ds->get(idx);
  EXPECT_EQ(b.images.shape(), (Shape{4, 3, 6, 6}));
  // Sorted within a class too: zebra/a.PNG before zebra/b.png.
  EXPECT_EQ(b.labels->to_int_vector(), (std::vector<std::int64_t>{0, 1, 2, 2}));
  for (float v : b.images.values<float>()) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LE(v, 1.0f);
  }
}

TEST(DatasetImage, CenterCropWithoutResizeKeepsPixels) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "only");
  Tensor img = pattern(6, 8, 1, 5);
  write_png((dir.path() / "only" / "i.png").string(), img);
  DatasetOptions opt;
  opt.channels = 1;
  opt.crop = 4;
  auto ds = open_image_folder(dir.path().string(), opt);
  const std::vector<std::int64_t> idx = {0};
  Batch b = ds->get(idx);
  ASSERT_EQ(b.images.shape(), (Shape{1, 1, 4, 4}));
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      EXPECT_EQ(b.images.data<float>()[y * 4 + x],
                img.data<std::uint8_t>()[(y + 1) * 8 + x + 2] / 255.0f);
}

TEST(DatasetImage, MixedSizesWithoutResizeNameTheFile) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "c");
  write_png((dir.path() / "c" / "a.png").string(), pattern(4, 4, 3, 1));
  write_png((dir.path() / "c" / "b.png").string(), pattern(5, 4, 3, 1));
  auto ds = open_image_folder(dir.path().string());
  const std::vector<std::int64_t> idx = {0, 1};
  const std::string e = error_of([&] { ds->get(idx); });
  EXPECT_NE(e.find("b.png"), std::string::npos) << e;
  EXPECT_NE(e.find("[3, 5, 4]"), std::string::npos) << e;
}

TEST(DatasetImage, EmptyFolderIsAnError) {
  ScratchDir dir;
  const std::string e = error_of([&] { open_image_folder(dir.path().string()); });
  EXPECT_NE(e.find("no class subfolders"), std::string::npos) << e;
}

}  // namespace
}  // namespace act::host
