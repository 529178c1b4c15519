//! Worst-case heap sizes of the collections the sharing machines keep, for their
//! `memory_bound()` formulas (see the module docs of [`super`]).

use core::mem::size_of;

/// Entries a B-tree node holds (Rust's `BTreeMap`: `2B − 1` with `B = 6`).
const NODE_CAPACITY: usize = 11;
/// Fewest entries of a node other than the root (`B − 1`), kept on insert and on remove.
const NODE_MIN: usize = 5;

/// Heap bytes a `BTreeMap<K, V>` of at most `n` entries takes, at most: every node but the
/// root holds at least 5 entries, so there are at most `n / 5 + 1` nodes, and each is at most
/// an internal node (11 keys, 11 values, 12 child pointers, a parent pointer and two `u16`),
/// counted here with 16 bytes of padding.
pub const fn btree_map_bytes<K, V>(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let node = NODE_CAPACITY * (size_of::<K>() + size_of::<V>())
        + (NODE_CAPACITY + 2) * size_of::<usize>()
        + 16;
    (n / NODE_MIN + 1) * node
}

/// Heap bytes of a `VecDeque<T>` that never holds more than `n` items: its buffer grows by
/// doubling (from 4), so its capacity stays below `2n + 4`.
pub const fn deque_bytes<T>(n: usize) -> usize {
    (2 * n + 4) * size_of::<T>()
}
