# shellcheck shell=sh
# Boot 2: nvdimm-persistence=cpu, the platform reports the CPU caches inside the persistence domain (eADR).
# First the crash test's verification (the data boot 1 wrote before it was killed), then the eADR checks.
# machine: pc,nvdimm=on,nvdimm-persistence=cpu

step mount-ext4 mount_fs ext4 "$(blockdev_of_size "$NV_EXT4")" /mnt/ext4 dax
step mount-xfs mount_fs xfs "$(blockdev_of_size "$NV_XFS")" /mnt/xfs dax
DAX=$(devdax_of_size "$NV_DEVDAX")

# Crash test, part 2. Emulation has no CPU cache model, so this proves DAX/MAP_SYNC/file-system durability of
# what pmem2 wrote, not its flush instructions. The negative controls prove the checks can fail: page-cache data
# never persisted is lost ...
run crash-fsdax-persisted dax_probe verify /mnt/ext4/crash-persisted "$SEED-fsdax" survived
run crash-devdax-persisted dax_probe verify "$DAX" "$SEED-devdax" survived 2097152
run crash-page-persisted dax_probe verify /mnt/xfs/crash-persisted "$SEED-page" survived
run crash-page-unpersisted-lost dax_probe verify /mnt/xfs/crash-unpersisted "$SEED-lost" lost
# ... and that the fsdax check can fail: without MAP_SYNC (or fsync) the block allocation dies with the machine.
run crash-fsdax-nosync-lost dax_probe verify /mnt/ext4/crash-nosync "$SEED-nosync" lost

step domain dax_probe domain cpu_cache
# eADR + MAP_SYNC: byte granularity, and requesting byte succeeds.
run fsdax-ext4-eadr fsdax_checks /mnt/ext4 byte
run fsdax-xfs-eadr fsdax_checks /mnt/xfs byte
run devdax-eadr devdax_checks "$DAX" byte
run info-fsdax-ext4-eadr fsdax_info /mnt/ext4 byte cpu_cache
run info-fsdax-xfs-eadr fsdax_info /mnt/xfs byte cpu_cache
run info-devdax-eadr devdax_info "$DAX" byte cpu_cache

# eADR does not help a page-cache mapping: dax=never is still page granularity.
step umount umount /mnt/ext4
step mount-ext4-never mount_fs ext4 "$(blockdev_of_size "$NV_EXT4")" /mnt/ext4 dax=never
run dax-never-ext4-eadr fsdax_checks /mnt/ext4 page
run info-dax-never-ext4-eadr fsdax_info /mnt/ext4 page
