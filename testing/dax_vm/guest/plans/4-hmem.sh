# shellcheck shell=sh
# Boot 4: 64 MiB of the guest's RAM turned into soft-reserved memory (memmap=...%...-1+0xefffffff, e820 type
# E820_TYPE_SOFT_RESERVED), of which the hmem driver makes a Device DAX on no NVDIMM region: volatile memory that
# pmem2 must not map as persistent (libpmem2 1.12.1 does). The NVDIMMs are there as in every boot, untouched.
# machine: pc,nvdimm=on
# cmdline: memmap=64M%0x30000000-1+0xefffffff

step hmem-device hmem_devdax
HMEM=$(hmem_devdax 2>/dev/null)
run hmem-devdax-refused dax_checks volatile "$HMEM"
