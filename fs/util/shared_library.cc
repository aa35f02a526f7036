// SPDX-License-Identifier: Apache-2.0
#include "fs/util/shared_library.h"

#include <dlfcn.h>

#include <cerrno>
#include <string>

namespace sealfs {

Result<void*> OpenSharedLibrary(const char* soname, const char* needed_for) {
  void* handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Status::FromErrno(
        ELIBACC, std::string("cannot load ") + soname + " (needed for " +
                     needed_for + "): " + (why != nullptr ? why : "dlopen"));
  }
  return handle;
}

Result<void*> SharedLibrarySymbol(void* handle, const char* soname,
                                  const char* name) {
  dlerror();
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    return Status::FromErrno(ELIBBAD, std::string(soname) + ": no symbol " +
                                          name + " (a version too old?)");
  }
  return symbol;
}

}  // namespace sealfs
