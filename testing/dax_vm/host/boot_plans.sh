# shellcheck shell=bash
# Stage 6 of run.sh: boots every plan in order, retrying a first boot that never reached init with safer
# settings (vm.sh), says what went wrong with a boot, and hands each console log to results.sh.

# boot_plans PLAN_FILE...: one boot per plan; ends the stage (summary_and_exit) if a VM never reached init
boot_plans() {
    local plan name log why step detail
    make_images || summary_and_exit "cannot create the NVDIMM backing files in $WORK"
    for plan in "$@"; do
        name=$(basename "$plan" .sh)
        boot "$plan"
        while [ "$BOOTED" = no ] && [ "$plan" = "$1" ] && vm_fall_back "$name"; do
            make_images || summary_and_exit "cannot create the NVDIMM backing files in $WORK"
            boot "$plan"
        done
        boot_note_time "$name"
        log=$WORK/$name.console.log
        tr -d '\r' <"$log" >"$log.txt" 2>/dev/null
        while IFS=$'\t' read -r step _ detail; do
            info "$name: setup step failed: $step: $detail"
        done < <(guest_records "$log.txt" STEP)
        why=$(boot_problem "$name" "$log.txt")
        if grep -q '^crash_point' "$plan" && [ "$OUTCOME" != crashed ]; then
            info "$name: never reached its crash point (outcome $OUTCOME): the crash test's data was not written"
        fi
        collect_results "$name" "$log.txt" "${why:-VM $name ended ($OUTCOME) without reporting it; see $log.txt}"
        if [ -n "$why" ]; then
            info "$name: $why; last console lines ($log.txt):"
            tail -n 25 "$log.txt" | sed 's/^/  | /'
        fi
        # The same kernel and initramfs will not do better in the next boots: do not spend their timeouts.
        [ "$BOOTED" = no ] && summary_and_exit "VM $name never reached init, so no later boot was tried"
    done
}
