// Included snippet: argmax partials of a greedy step's logits (gemv.wgsl's PICK). Each
// workgroup of the one-row logits product reduces its outputs whose vocabulary id
// (p.c_off + n: the logits row starts the buffer) lies below p.pick_limit (EOT) and passes
// the suppress mask to one partial: [bits of the max, the lowest id holding it, bits of the
// sum of exp(v − max)], written at pick_partials[3 · (p.pick_first + workgroup)] (u32, so no
// driver sees the empty id as a NaN). Text ids are
// subject to the mask alone, so runtime/token_pick.wgsl's PARTIALS pick merges the partials
// instead of reading those logits, and reads only EOT, the specials and the timestamps,
// whose rules change from step to step. Workgroups without outputs (a grid folded into y)
// write nothing.

@group(0) @binding(6) var<storage, read> pick_mask: array<f32>;
@group(0) @binding(7) var<storage, read_write> pick_partials: array<u32>;

const PICK_SLOTS: u32 = 64u;
const PICK_NONE: f32 = -3.402823e38;
var<workgroup> slot_max: array<f32, PICK_SLOTS>;
var<workgroup> slot_id: array<u32, PICK_SLOTS>;
var<workgroup> slot_sum: array<f32, PICK_SLOTS>;

// Empties slot `slot` (every slot must be emptied or kept before `leave_partial`).
fn clear_slot(slot: u32) {
    if (slot < PICK_SLOTS) {
        slot_max[slot] = PICK_NONE;
        slot_id[slot] = 0xffffffffu;
        slot_sum[slot] = 0.0;
    }
}

// Keeps output n's stored value v in `slot`, if its id is one the partials cover.
fn keep_output(slot: u32, n: u32, v: f32) {
    let id = p.c_off + n;
    if (id < p.pick_limit && pick_mask[id] > -1e29) {
        slot_max[slot] = v;
        slot_id[slot] = id;
        slot_sum[slot] = 1.0;
    }
}

// Reduces the slots and writes the workgroup's partial (`any`: the workgroup has outputs;
// uniform). Every invocation must call it. One invocation walks the slots in id order: a
// single barrier, where a tree would take one per level (costly on CPU drivers, and the
// walk is short beside the workgroup's products).
fn leave_partial(group: u32, index: u32, any: bool) {
    workgroupBarrier();
    if (index != 0u || !any) {
        return;
    }
    var m = PICK_NONE;
    var id = 0xffffffffu;
    var sum = 0.0;
    for (var slot = 0u; slot < PICK_SLOTS; slot++) {
        let v = slot_max[slot];
        if (v > m) {
            sum = sum * exp(m - v) + slot_sum[slot];
            m = v;
            id = slot_id[slot];
        } else if (v != PICK_NONE) {
            sum += slot_sum[slot] * exp(v - m);
        }
    }
    let at = 3u * (p.pick_first + group);
    pick_partials[at] = bitcast<u32>(m);
    pick_partials[at + 1u] = id;
    pick_partials[at + 2u] = bitcast<u32>(sum);
}
