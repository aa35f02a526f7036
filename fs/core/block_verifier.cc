// SPDX-License-Identifier: Apache-2.0
// Not yet implemented.
