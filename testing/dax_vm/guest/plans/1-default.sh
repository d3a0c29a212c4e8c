# shellcheck shell=sh
# Boot 1: NVDIMMs with no persistence domain reported (qemu's default: neither ADR nor eADR advertised).
# Sets up the namespaces and file systems every later boot uses, runs the no-eADR checks, then writes the
# crash-test data and is killed hard by the host.
# machine: pc,nvdimm=on

step ns-ext4 make_namespace "$NV_EXT4" fsdax
step ns-xfs make_namespace "$NV_XFS" fsdax
step ns-devdax make_namespace "$NV_DEVDAX" devdax
step mkfs-ext4 mkfs.ext4 -q -F -b 4096 -L daxext4 "$(blockdev_of_size "$NV_EXT4")"
step mkfs-xfs mkfs.xfs -q -f -L daxxfs "$(blockdev_of_size "$NV_XFS")"
step mount-ext4 mount_fs ext4 "$(blockdev_of_size "$NV_EXT4")" /mnt/ext4 dax
step mount-xfs mount_fs xfs "$(blockdev_of_size "$NV_XFS")" /mnt/xfs dax
step domain dax_probe domain ""
DAX=$(devdax_of_size "$NV_DEVDAX")

# No eADR: MAP_SYNC works, so cache-line granularity; byte is refused.
run fsdax-ext4 fsdax_checks /mnt/ext4 cache_line
run fsdax-xfs fsdax_checks /mnt/xfs cache_line
run devdax devdax_checks "$DAX" cache_line
run info-fsdax-ext4 fsdax_info /mnt/ext4 cache_line unknown
run info-fsdax-xfs fsdax_info /mnt/xfs cache_line unknown
run info-devdax devdax_info "$DAX" cache_line unknown
# Reliability (pmem2/ras) as `pmem2 info` shows it, against ndctl and sysfs: region, NUMA node, DIMM ids and
# unsafe shutdown counts (or "not supported" where qemu's DIMMs lack the nfit attribute), no bad blocks; the
# Device DAX's size and alignment against `ndctl list -X`.
run ras-fsdax-ext4 ras_info /mnt/ext4/pmem2-file "$NV_EXT4"
run ras-fsdax-xfs ras_info /mnt/xfs/pmem2-file "$NV_XFS"
run ras-devdax ras_info "$DAX" "$NV_DEVDAX"
run ras-devdax-ndctl devdax_ndctl "$DAX" "$NV_DEVDAX"
# Deep flush (flush_checks.sh, dax_checks.cc), watched with inotify. A file on fsdax is deep flushed by its msync
# (the kernel's fsync drains the region): no region's attribute is touched, also with a stand-in reading 1, also for
# a caller that is not root. Device DAX: qemu's regions have no flush hints, their deep_flush reads 0, so pmem2 must
# read it and write nothing; a stand-in reading 1 must be written (that region's and no other), and a caller that
# is not root must get EACCES. Then PMDK's unsafe_shutdown example, pmem2's build and Debian's on the same pool, and
# Device DAX placed in a VmReservation.
run deep-flush-fsdax-ext4 deep_flush /mnt/ext4/deep-flush "$NV_EXT4" untouched
run deep-flush-fsdax-xfs deep_flush /mnt/xfs/deep-flush "$NV_XFS" untouched
run deep-flush-devdax deep_flush "$DAX" "$NV_DEVDAX" nothing
run deep-flush-fsdax-ext4-standin deep_flush /mnt/ext4/deep-flush "$NV_EXT4" untouched 1
run deep-flush-fsdax-ext4-nonroot deep_flush /mnt/ext4/deep-flush "$NV_EXT4" untouched-nonroot 1
run deep-flush-devdax-standin deep_flush "$DAX" "$NV_DEVDAX" written 1
run deep-flush-devdax-nonroot deep_flush "$DAX" "$NV_DEVDAX" eacces 1
run unsafe-shutdown-fsdax-ext4 pmdk_unsafe_shutdown /mnt/ext4/us-pool
run unsafe-shutdown-devdax pmdk_unsafe_shutdown "$DAX"
run reserve-devdax dax_checks reserve "$DAX"
# `pmem2 bench` on Device DAX with a page granularity forced, which libpmem2 would persist by msync and abort.
run bench-devdax-forced-page bench_devdax_forced_page "$DAX"

# dax=never: the page cache is back, MAP_SYNC is refused, page granularity (msync), as on the build host.
step umount umount /mnt/ext4 /mnt/xfs
step mount-ext4-never mount_fs ext4 "$(blockdev_of_size "$NV_EXT4")" /mnt/ext4 dax=never
step mount-xfs-never mount_fs xfs "$(blockdev_of_size "$NV_XFS")" /mnt/xfs dax=never
run dax-never-ext4 fsdax_checks /mnt/ext4 page
run dax-never-xfs fsdax_checks /mnt/xfs page
run info-dax-never-ext4 fsdax_info /mnt/ext4 page
run info-dax-never-xfs fsdax_info /mnt/xfs page
# Without DAX the file is still on the NVDIMM's block device: the same region, ids and counts.
run ras-dax-never-ext4 ras_info /mnt/ext4/pmem2-file "$NV_EXT4"
# Page granularity: DeepFlush is the persist (msync), no region is touched.
run deep-flush-dax-never-ext4 deep_flush /mnt/ext4/deep-flush "$NV_EXT4" untouched
# overlayfs over that ext4: Linux 6.1 names an overlay file's mappings in /proc/self/maps by the upper layer's file
# (ext4's device and inode), not as fstat names it; a forked child must still find the Map's own mapping (its probe
# does: map_registry.cc), map it again and persist through it.
step mount-overlay mount_overlay /mnt/ext4/ovl /mnt/ovl
run overlay-page fsdax_checks /mnt/ovl page named-apart
step umount-overlay umount /mnt/ovl

# Crash test, part 1: write through pmem2, then the host SIGKILLs qemu (part 2 is in the next boot).
# ext4 with dax and a 10-minute journal commit interval: only MAP_SYNC's synchronous faults can make the block
# allocation durable in time. xfs with dax=never: page cache, persisted by msync or not at all.
step umount-2 umount /mnt/ext4 /mnt/xfs
step mount-ext4-crash mount_fs ext4 "$(blockdev_of_size "$NV_EXT4")" /mnt/ext4 dax,commit=600
step mount-xfs-crash mount_fs xfs "$(blockdev_of_size "$NV_XFS")" /mnt/xfs dax=never
step no-writeback no_writeback
step write-fsdax dax_checks write /mnt/ext4/crash-persisted "$SEED-fsdax" persist
step write-devdax dax_checks write "$DAX" "$SEED-devdax" persist 2097152
step write-page dax_checks write /mnt/xfs/crash-persisted "$SEED-page" persist
step write-unpersisted dax_checks write /mnt/xfs/crash-unpersisted "$SEED-lost" nopersist
# Last on ext4, after every MAP_SYNC fault has committed the journal: DAX without MAP_SYNC and without fsync.
step write-nosync dax_probe write-nosync /mnt/ext4/crash-nosync "$SEED-nosync"
crash_point
