# shellcheck shell=bash
# Stage 5 of run.sh: one qemu boot of one plan, bounded in time, with vm.sh's settings. Owns the qemu process
# (`cleanup` kills it) and learns from the console only what protocol.sh reads.
QPID=
BOOT_SEED=$(date +%s)-$$-$RANDOM # tells this run's crash data from an older run's
BOOT_TIMES=""

cleanup() {
    if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then kill -9 "$QPID" 2>/dev/null; fi
    QPID=
}

# boot PLAN_FILE: runs one VM; sets OUTCOME to done|crashed|exited|noboot|timeout, BOOTED to yes|no, QRC
boot() {
    local plan=$1 name machine crash=no log i=0 s acc nv=() cmdline start booted=no
    name=$(basename "$plan" .sh)
    machine=$(sed -n 's/^# machine: *//p' "$plan" | head -n 1)
    grep -q '^crash_point' "$plan" && crash=yes
    log=$WORK/$name.console.log
    read -r -a acc <<<"$(vm_accel_args)"
    for s in $NV_ALL; do
        nv+=(-object "memory-backend-file,id=mem$i,share=on,mem-path=$WORK/nv$i.img,size=$s"
            -device "nvdimm,id=nv$i,memdev=mem$i")
        i=$((i + 1))
    done
    # A plan's "# virtio-pmem: yes" line: a virtio-pmem device too (its modules are the plan's to load)
    grep -q '^# virtio-pmem: *yes' "$plan" &&
        nv+=(-object "memory-backend-file,id=vp0,share=on,mem-path=$WORK/nv-virtio.img,size=$NV_VIRTIO"
            -device "virtio-pmem-pci,memdev=vp0,id=vpmem0")
    # read by guest/init; a plan's "# cmdline:" line adds kernel parameters (e.g. memmap= for soft-reserved memory)
    cmdline="daxvm.plan=$name daxvm.seed=$BOOT_SEED $(sed -n 's/^# cmdline: *//p' "$plan" | head -n 1)"
    start=$SECONDS
    qemu-system-x86_64 "${acc[@]}" -machine "${machine:-pc,nvdimm=on}" -smp 2 -m 1G,slots=4,maxmem=4G "${nv[@]}" \
        -kernel "$(vm_kernel)" -initrd "$WORK/initramfs.cpio" \
        -append "console=ttyS0 loglevel=3 panic=-1 rdinit=/init mitigations=off $cmdline" \
        -nodefaults -no-user-config -display none -serial "file:$log" -no-reboot \
        </dev/null >"$WORK/$name.qemu.log" 2>&1 9>&- &
    QPID=$!
    OUTCOME=
    while [ -z "$OUTCOME" ]; do
        if ! kill -0 "$QPID" 2>/dev/null || grep -q '^State:.*zombie' "/proc/$QPID/status" 2>/dev/null; then
            OUTCOME=exited
            guest_said "$log" DONE && OUTCOME='done'
            break
        fi
        [ $booted = no ] && guest_said "$log" BOOTED && booted=yes
        if [ $crash = yes ] && guest_said "$log" READY-TO-CRASH; then
            OUTCOME=crashed # killed below: no guest shutdown, no page-cache writeback
        elif [ $booted = no ] && [ $((SECONDS - start)) -ge "$INIT_TIMEOUT" ]; then
            OUTCOME=noboot
        elif [ $((SECONDS - start)) -ge "$BOOT_TIMEOUT" ]; then
            OUTCOME=timeout
        else
            sleep 0.2
        fi
    done
    [ "$OUTCOME" = exited ] || [ "$OUTCOME" = 'done' ] || kill -9 "$QPID"
    wait "$QPID" 2>/dev/null
    QRC=$?
    QPID=
    guest_said "$log" BOOTED && booted=yes
    BOOTED=$booted
    BOOT_SECONDS=$((SECONDS - start))
}

# boot_problem NAME LOG: why the runs of the last boot have no result, if it went wrong (else nothing)
boot_problem() {
    local name=$1 log=$2 last why=
    last=$(grep -av '^\s*$' "$log" | tail -n 1 | cut -c1-160)
    case $OUTCOME in
        exited) why="VM $name stopped before this run (qemu exit status $QRC; last console line: $last)"
            [ "$BOOTED" = no ] && why="VM $name exited before init ran (qemu exit status $QRC)"
            [ -s "$WORK/$name.qemu.log" ] && why="$why; qemu: $(tail -n 1 "$WORK/$name.qemu.log" | cut -c1-200)" ;;
        noboot) why="VM $name did not reach init within ${INIT_TIMEOUT}s (last console line: $last)" ;;
        timeout) why="VM $name timed out after ${BOOT_TIMEOUT}s (last console line: $last)" ;;
    esac
    echo "$why"
}

# boot_note_time NAME / boot_times: the wall time of each plan's (last) boot, for the closing summary line
boot_note_time() { BOOT_TIMES="$BOOT_TIMES $1=${BOOT_SECONDS}s"; }
boot_times() { echo "$BOOT_TIMES"; }
