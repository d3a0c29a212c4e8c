# shellcheck shell=sh
# Boot 3: nvdimm-persistence=mem-ctrl, the platform reports the memory controller as the persistence domain
# (ADR): the CPU caches still have to be flushed, so cache-line granularity.
# machine: pc,nvdimm=on,nvdimm-persistence=mem-ctrl

step mount-ext4 mount_fs ext4 "$(blockdev_of_size "$NV_EXT4")" /mnt/ext4 dax
step mount-xfs mount_fs xfs "$(blockdev_of_size "$NV_XFS")" /mnt/xfs dax
step domain dax_probe domain memory_controller
DAX=$(devdax_of_size "$NV_DEVDAX")

run fsdax-ext4-memctrl fsdax_checks /mnt/ext4 cache_line
run fsdax-xfs-memctrl fsdax_checks /mnt/xfs cache_line
run devdax-memctrl devdax_checks "$DAX" cache_line
run info-fsdax-ext4-memctrl fsdax_info /mnt/ext4 cache_line memory_controller
run info-fsdax-xfs-memctrl fsdax_info /mnt/xfs cache_line memory_controller
run info-devdax-memctrl devdax_info "$DAX" cache_line memory_controller
