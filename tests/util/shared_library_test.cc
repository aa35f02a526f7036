// SPDX-License-Identifier: Apache-2.0
// Tests for fs/util/shared_library.h.
#include "fs/util/shared_library.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>

namespace sealfs {
namespace {

TEST(SharedLibrary, ResolvesAFunctionOfALoadedLibrary) {
  Result<void*> lib = OpenSharedLibrary("libm.so.6", "a test");
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  Result<void*> fn = SharedLibrarySymbol(*lib, "libm.so.6", "cbrt");
  ASSERT_TRUE(fn.ok()) << fn.status().ToString();
  auto cbrt_fn = reinterpret_cast<double (*)(double)>(*fn);
  EXPECT_DOUBLE_EQ(cbrt_fn(27.0), 3.0);
}

TEST(SharedLibrary, AMissingLibraryIsAnErrorNamingItAndItsUse) {
  Result<void*> lib = OpenSharedLibrary("libsealfs-absent.so.9", "testing");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().err(), ELIBACC);
  EXPECT_NE(lib.status().context().find("libsealfs-absent.so.9"),
            std::string::npos);
  EXPECT_NE(lib.status().context().find("needed for testing"),
            std::string::npos);
}

TEST(SharedLibrary, AMissingSymbolIsAnErrorNamingIt) {
  Result<void*> lib = OpenSharedLibrary("libm.so.6", "a test");
  ASSERT_TRUE(lib.ok());
  Result<void*> fn = SharedLibrarySymbol(*lib, "libm.so.6", "no_such_fn");
  ASSERT_FALSE(fn.ok());
  EXPECT_EQ(fn.status().err(), ELIBBAD);
  EXPECT_NE(fn.status().context().find("no_such_fn"), std::string::npos);
}

}  // namespace
}  // namespace sealfs
