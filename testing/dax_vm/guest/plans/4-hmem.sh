# shellcheck shell=sh
# Boot 4: 64 MiB of the guest's RAM turned into soft-reserved memory (memmap=...%...-1+0xefffffff, e820 type
# E820_TYPE_SOFT_RESERVED), of which the hmem driver makes a Device DAX on no NVDIMM region: volatile memory that
# pmem2 must not map as persistent (libpmem2 1.12.1 does). Then a virtio-pmem device (its region found by its bus's
# provider; its modules load after the NVDIMMs' regions are numbered): as Device DAX, refused too (its stores are
# durable only by the device's flush); as fsdax ext4, MAP_SYNC is refused, so page granularity. The NVDIMMs are
# there as in every boot, untouched.
# machine: pc,nvdimm=on
# cmdline: memmap=64M%0x30000000-1+0xefffffff
# virtio-pmem: yes

step hmem-device hmem_devdax
HMEM=$(hmem_devdax 2>/dev/null)
run hmem-devdax-refused dax_checks volatile "$HMEM"

step virtio-pmem load_virtio_pmem
step ns-virtio-devdax make_namespace virtio-pmem devdax
run virtio-devdax-refused dax_checks volatile "$(devdax_of_size virtio-pmem)" virtio-pmem
step ns-virtio-fsdax make_namespace virtio-pmem fsdax
step mkfs-virtio-ext4 mkfs.ext4 -q -F -b 4096 "$(blockdev_of_size virtio-pmem)"
step mount-virtio-ext4 mount_fs ext4 "$(blockdev_of_size virtio-pmem)" /mnt/virtio dax
run virtio-fsdax-ext4-page all "dax_probe mapsync /mnt/virtio/raw-probe dax-no" \
    "dax_checks fsdax /mnt/virtio/pmem2-file page"
