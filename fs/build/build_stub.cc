// SPDX-License-Identifier: Apache-2.0
// Placeholder until the mkfs pipeline lands.
