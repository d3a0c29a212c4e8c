# shellcheck shell=sh
# The emulated NVDIMMs inside the guest (busybox sh; sourced through /lib.sh): the kernel modules, and the
# namespace, block device or Device DAX of each NVDIMM, found by its size (layout.sh), or of the virtio-pmem device
# (the key `virtio-pmem` instead of a size: found by its bus's provider).

# load_modules: loads /modules.list in order (the host wrote it in dependency order), then waits for the namespaces
load_modules() {
    while read -r m; do
        case $m in
            */drivers/virtio/* | */nd_virtio.ko | */virtio_pmem.ko) ;; # load_virtio_pmem's
            # Optional accelerated variants: absent CPU features make them refuse to load.
            *crc32c-intel.ko | *crc32c_intel.ko | *crct10dif-pclmul.ko | *crc32-pclmul.ko)
                insmod "/lib/modules/$K/$m" 2>/dev/null || echo "optional module $m not loaded" ;;
            *) insmod "/lib/modules/$K/$m" || { echo "insmod $m failed"; return 1; } ;;
        esac
    done </modules.list
    # Regions and namespaces are probed asynchronously: wait for the three label-less namespaces.
    _i=0
    while [ "$(count_existing /sys/bus/nd/devices/namespace*.0)" -lt 3 ]; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && { echo "nvdimm namespaces did not appear: $(ls /sys/bus/nd/devices)"; return 1; }
        sleep 0.1
    done
    for r in /sys/bus/nd/devices/region*; do
        echo "$(basename "$r"): size=$(cat "$r/size") persistence_domain='$(cat "$r/persistence_domain" 2>/dev/null)'"
    done
}

# count_existing PATH...: how many of the (globbed) paths exist
count_existing() {
    _n=0
    for _p in "$@"; do [ -e "$_p" ] && _n=$((_n + 1)); done
    echo "$_n"
}

# load_virtio_pmem: the virtio-pmem device's modules, which load_modules left out (so the NVDIMMs' regions are
# numbered before its region appears, as in every boot), then waits for its namespace; shows every region's bus
load_virtio_pmem() {
    while read -r m; do
        case $m in */drivers/virtio/* | */nd_virtio.ko | */virtio_pmem.ko) ;; *) continue ;; esac
        insmod "/lib/modules/$K/$m" || { echo "insmod $m failed"; return 1; }
    done </modules.list
    _i=0
    until ns_of_size virtio-pmem >/dev/null 2>&1; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && { echo "no virtio-pmem namespace: $(ls /sys/bus/nd/devices)"; return 1; }
        sleep 0.1
    done
    for r in /sys/bus/nd/devices/region*; do
        echo "$(basename "$r"): size=$(cat "$r/size") provider=$(bus_provider "$(basename "$r")")"
    done
    for s in $NV_ALL; do _reg=$(region_of_size "$s") && echo "the NVDIMM of size $s: $_reg" || return 1; done
    _vs=$(cat "/sys/bus/nd/devices/$(region_of_size virtio-pmem)/size")
    [ "$_vs" = "$NV_VIRTIO" ] || { echo "the virtio-pmem region's size is $_vs, not $NV_VIRTIO"; return 1; }
}

# bus_provider REGION: the provider of the bus the region is on (ACPI.NFIT: the NVDIMMs; virtio-pmem)
bus_provider() { cat "$(readlink -f "/sys/bus/nd/devices/$1")/../provider" 2>/dev/null; }

# ns_of_size BYTES|virtio-pmem: the namespace (e.g. namespace1.0) of the region region_of_size finds
ns_of_size() {
    _reg=$(region_of_size "$1") || return 1
    for n in /sys/bus/nd/devices/"$_reg"/namespace*.0; do
        [ -e "$n" ] && { basename "$n"; return 0; }
    done
    echo "no namespace in $_reg (region of $1)" >&2
    return 1
}

# make_namespace BYTES fsdax|devdax: reconfigures the raw namespace of that region
make_namespace() {
    _ns=$(ns_of_size "$1") || return 1
    case $2 in
        fsdax) ndctl create-namespace --force --reconfig="$_ns" --mode=fsdax --map=dev ;;
        devdax) ndctl create-namespace --force --reconfig="$_ns" --mode=devdax --align=2M ;;
    esac
}

# blockdev_of_size BYTES: /dev/pmemN of the fsdax namespace in that region
blockdev_of_size() {
    _ns=$(ns_of_size "$1") || return 1
    for b in /sys/bus/nd/devices/"$_ns"/block/pmem* /sys/bus/nd/devices/pfn*/block/pmem*; do
        [ -e "$b" ] || continue
        # the pfn device's block dev belongs to our namespace if its "namespace" attribute names it
        case $b in
            */pfn*) [ "$(cat "${b%/block/*}/namespace" 2>/dev/null)" = "$_ns" ] || continue ;;
        esac
        echo "/dev/$(basename "$b")"
        return 0
    done
    echo "no block device for $_ns" >&2
    return 1
}

# devdax_of_size BYTES: /dev/daxN.M of the devdax namespace in that region
devdax_of_size() {
    _ns=$(ns_of_size "$1") || return 1
    for d in /sys/bus/nd/devices/dax*; do
        [ "$(cat "$d/namespace" 2>/dev/null)" = "$_ns" ] || continue
        for c in "$d"/dax*.*; do
            [ -e "$c" ] && { echo "/dev/$(basename "$c")"; return 0; }
        done
    done
    echo "no device dax for $_ns" >&2
    return 1
}

# hmem_devdax: /dev/daxN.M of the soft-reserved memory the plan's memmap= made (the hmem driver's device, on no
# NVDIMM region). dax_hmem hands its devices to the kmem driver (system RAM), which this VM does not load: bind it
# to device_dax by name, as `daxctl reconfigure-device --mode=devdax` does.
hmem_devdax() {
    for d in /sys/bus/dax/devices/dax*; do
        case $(readlink -f "$d") in */hmem.*) ;; *) continue ;; esac
        _n=$(basename "$d")
        [ -e "/dev/$_n" ] || echo "$_n" >/sys/bus/dax/drivers/device_dax/new_id || return 1
        _i=0
        while [ ! -e "/dev/$_n" ]; do
            _i=$((_i + 1))
            [ $_i -gt 50 ] && { echo "/dev/$_n did not appear after binding $_n to device_dax"; return 1; }
            sleep 0.1
        done
        echo "$_n: $(readlink -f "$d"), size $(cat "$d/size"), align $(cat "$d/align" 2>/dev/null)" >&2
        echo "/dev/$_n"
        return 0
    done
    echo "no Device DAX of the hmem driver: $(ls /sys/bus/dax/devices 2>&1); $(grep -i 'soft' /proc/iomem)"
    return 1
}

# region_of_size BYTES|virtio-pmem: the NVDIMM region (e.g. region1) of that size, not the virtio-pmem device's;
# or the virtio-pmem device's. Region numbering does not follow qemu's -device order (nor, for virtio-pmem, when
# its module loads), so the host gives every NVDIMM a distinct size.
region_of_size() {
    for r in /sys/bus/nd/devices/region*; do
        _p=$(bus_provider "$(basename "$r")")
        case $1 in
            virtio-pmem) [ "$_p" = virtio-pmem ] ;;
            *) [ "$_p" != virtio-pmem ] && [ "$(cat "$r/size")" = "$1" ] ;;
        esac && { basename "$r"; return 0; }
    done
    echo "no region of $1" >&2
    return 1
}
