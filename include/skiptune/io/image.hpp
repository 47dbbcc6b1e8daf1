// skiptune/io/image.hpp — the image pipeline in one include: decode (PNG / JPEG / BMP → RGB
// Image8, Pillow's convert("RGB") semantics), Pillow-exact bicubic resize, and CLIP's eval and
// training transforms writing normalised float32 CHW into the model's [B, 3, H, W] input.
// Needs the skiptune::io CMake target (links libjpeg-turbo and Debian's libstb). See docs/images.md.
//
//   #include <skiptune/io/image.hpp>
//   skiptune::io::Image8 image = skiptune::io::load_image("cat.jpg");
//   std::vector<float> input(3 * 224 * 224);
//   skiptune::io::preprocess_into(image, input.data(), 224);          // eval
//   skiptune::Rng rng(seed);
//   skiptune::io::augment_into(image, input.data(), rng);             // training view
#pragma once

#include "skiptune/io/image8.hpp"
#include "skiptune/io/image_decode.hpp"
#include "skiptune/io/image_resize.hpp"
#include "skiptune/io/image_transforms.hpp"
