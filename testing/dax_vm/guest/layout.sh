# shellcheck shell=sh
# The emulated NVDIMMs, shared by the host (run.sh sizes the backing files) and the guest (init finds each
# region by its size: the kernel's region numbering does not follow qemu's -device order, so sizes must differ).
NV_EXT4=805306368   # 768 MiB: fsdax namespace, ext4
NV_XFS=536870912    # 512 MiB: fsdax namespace, xfs (mkfs.xfs wants >= 300 MiB)
NV_DEVDAX=268435456 # 256 MiB: devdax namespace, 2 MiB alignment
# shellcheck disable=SC2034 # read by the files that source this one (host/boot.sh)
NV_ALL="$NV_EXT4 $NV_XFS $NV_DEVDAX"
# shellcheck disable=SC2034 # read by host/boot.sh and vm.sh
NV_VIRTIO=134217728 # 128 MiB: a virtio-pmem device, in the boots whose plan has a "# virtio-pmem: yes" line
