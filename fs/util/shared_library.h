// SPDX-License-Identifier: Apache-2.0
// Loading a shared library when it is first needed instead of at process
// start. libcurl and libarchive are used this way: between them they bring
// in some 35 further libraries (TLS, Kerberos, LDAP, ICU, XML, ...) whose
// loading and relocation every command would otherwise pay, `sealfs mount`
// included, though only pull, -o remote= and mkfs --from-tar use them.
//
// A library's functions are resolved into a table of pointers typed from its
// own header (decltype), so a wrong signature does not compile; see
// fs/remote/curl_api.h and fs/mkfs/archive_api.h.
#ifndef SEALFS_FS_UTIL_SHARED_LIBRARY_H_
#define SEALFS_FS_UTIL_SHARED_LIBRARY_H_

#include "sealfs/status.h"

namespace sealfs {

// dlopen(soname) with RTLD_NOW | RTLD_LOCAL; the handle is never closed.
// The error names the library and says which feature wanted it.
Result<void*> OpenSharedLibrary(const char* soname, const char* needed_for);

// dlsym; the error names the library and the symbol.
Result<void*> SharedLibrarySymbol(void* handle, const char* soname,
                                  const char* name);

}  // namespace sealfs

#endif  // SEALFS_FS_UTIL_SHARED_LIBRARY_H_
