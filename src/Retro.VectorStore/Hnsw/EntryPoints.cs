namespace Retro.VectorStore.Hnsw;

/// <summary>
/// The graph's entry point and top level, published together as one 64-bit word so that a search reads a
/// consistent pair without a lock; updates take a lock (inserts raising the top level are rare: ~1/M of nodes).
/// </summary>
internal sealed class EntryPoints
{
    private const long Empty = -1;
    private readonly Lock _lock = new();
    private long _packed = Empty;

    /// <summary>False while the graph has no node.</summary>
    public bool TryGet(out uint node, out int level)
    {
        long packed = Volatile.Read(ref _packed);
        node = (uint)packed;
        level = (int)(packed >> 32);
        return packed != Empty;
    }

    /// <summary>Makes <paramref name="node"/> the entry point when the graph is empty; true when it did.</summary>
    public bool TryInitialize(uint node, int level)
    {
        lock (_lock)
        {
            if (Volatile.Read(ref _packed) != Empty) return false;
            Volatile.Write(ref _packed, Pack(node, level));
            return true;
        }
    }

    /// <summary>Makes <paramref name="node"/> the entry point when its level is above the current top level.</summary>
    public void Promote(uint node, int level)
    {
        lock (_lock)
        {
            if (!TryGet(out _, out int top) || level > top) Volatile.Write(ref _packed, Pack(node, level));
        }
    }

    /// <summary>Sets the entry point (loading a persisted graph) or clears it (<paramref name="level"/> &lt; 0).</summary>
    public void Set(uint node, int level)
    {
        lock (_lock) Volatile.Write(ref _packed, level < 0 ? Empty : Pack(node, level));
    }

    private static long Pack(uint node, int level) => ((long)level << 32) | node;
}
