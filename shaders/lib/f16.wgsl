// Included snippet: weight storage. Weights are f32, or with F16 IEEE halves packed two per
// u32 (element i in word i / 2, the low half when i is even). A kernel declares each weight
// binding as `array<Packed>` and reads element i as `unpack_at(w[packed_index(i)], i)`.

#if F16
alias Packed = u32;

fn packed_index(i: u32) -> u32 {
    return i >> 1u;
}

fn unpack_at(word: u32, i: u32) -> f32 {
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, (i & 1u) == 1u);
}
#else
alias Packed = f32;

fn packed_index(i: u32) -> u32 {
    return i;
}

fn unpack_at(word: f32, i: u32) -> f32 {
    return word;
}
#endif
