using System.Runtime.CompilerServices;

namespace Retro.VectorStore.Hnsw;

/// <summary>
/// The HNSW link structure over dense node ids (the vector offsets): per node a level, a level-0 list of up to
/// 2·M links, lists of up to M links per upper level, a tombstone flag, and a seqlock version so that readers copy
/// neighbour lists without locks and never see a torn one. Writers serialise per node on striped locks (hnswlib's
/// per-node mutexes). Arrays grow only between insert batches, by the single writer; readers snapshot them.
/// </summary>
internal sealed class HnswGraph
{
    private const int LockStripes = 1 << 14;
    private const int MaxLevel = 30;

    private readonly Lock[] _locks = new Lock[LockStripes];
    private GraphArrays _arrays;
    private int _count;

    /// <summary>Links per node on levels above 0.</summary>
    public int M { get; }

    /// <summary>Links per node on level 0 (2·M).</summary>
    public int M0 { get; }

    /// <summary>Beam width while inserting.</summary>
    public int EfConstruction { get; }

    /// <summary>mL = 1/ln(M): the level of a node is floor(-ln(U)·mL).</summary>
    public double LevelMultiplier { get; }

    /// <summary>Seed of the level generator (levels are a pure function of seed and node id).</summary>
    public ulong Seed { get; }

    /// <summary>Algorithm 4's keepPrunedConnections: fill lists up to capacity with discarded candidates.</summary>
    public bool KeepPrunedConnections { get; }

    /// <summary>The entry point and top level.</summary>
    public EntryPoints Entry { get; } = new();

    /// <summary>Nodes [0, Count) were inserted (or are being inserted by the current batch).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Current arrays (a reader's snapshot).</summary>
    public GraphArrays Arrays => Volatile.Read(ref _arrays);

    public HnswGraph(int m, int efConstruction, ulong seed = 0x5EED_5EED, bool keepPrunedConnections = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(efConstruction, 1);
        M = m;
        M0 = 2 * m;
        EfConstruction = efConstruction;
        LevelMultiplier = 1.0 / Math.Log(m);
        Seed = seed;
        KeepPrunedConnections = keepPrunedConnections;
        for (int i = 0; i < _locks.Length; i++) _locks[i] = new Lock();
        _arrays = new GraphArrays(0, m);
    }

    /// <summary>Grows the arrays to hold <paramref name="capacity"/> nodes. Single writer, no insert in flight.</summary>
    public void EnsureCapacity(int capacity)
    {
        var old = _arrays;
        if (capacity <= old.Capacity) return;
        int grown = (int)Math.Min(int.MaxValue - 64, Math.Max(capacity, (long)old.Capacity * 3 / 2));
        Volatile.Write(ref _arrays, old.Grow(grown, M));
    }

    /// <summary>Reserves node ids up to <paramref name="count"/> (exclusive) for insertion. Single writer.</summary>
    public void SetCount(int count)
    {
        if (count > Arrays.Capacity) throw new InvalidOperationException("capacity not reserved");
        Volatile.Write(ref _count, count);
    }

    /// <summary>The level of a node: floor(-ln(U)·mL) with U from a hash of (seed, node), capped at 30.</summary>
    public int LevelOf(uint node)
    {
        ulong z = Seed + (node + 1UL) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        double u = ((z >> 11) + 1) * (1.0 / (1UL << 53)); // (0, 1]
        return Math.Min(MaxLevel, (int)(-Math.Log(u) * LevelMultiplier));
    }

    /// <summary>The lock that guards <paramref name="node"/>'s link lists.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Lock LockOf(uint node) => _locks[node & (LockStripes - 1)];

    /// <summary>Capacity of a list on <paramref name="level"/>.</summary>
    public int MaxLinks(int level) => level == 0 ? M0 : M;

    /// <summary>
    /// Copies <paramref name="node"/>'s links on <paramref name="level"/> into <paramref name="destination"/> (at least
    /// M0 long) and returns their number; lock-free, retried while a writer holds the node's seqlock.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadLinks(GraphArrays g, uint node, int level, uint[] destination)
    {
        uint[] list;
        int start, max;
        if (level == 0) { list = g.Level0; start = (int)node * (M0 + 1); max = M0; }
        else
        {
            list = g.Upper[node]!;
            start = (level - 1) * (M + 1);
            max = M;
        }
        ref int version = ref g.Versions[node];
        while (true)
        {
            int before = Volatile.Read(ref version);
            if ((before & 1) == 0)
            {
                int count = Math.Min((int)list[start], max);
                Array.Copy(list, start + 1, destination, 0, count);
                // The copy's loads before the version's second read (a load-load barrier: no fence instruction on
                // x86, unlike the full MemoryBarrier, which cost one mfence per expanded node).
                Volatile.ReadBarrier();
                if (Volatile.Read(ref version) == before) return count;
            }
            Thread.SpinWait(1);
        }
    }

    /// <summary>Hints the CPU to fetch <paramref name="node"/>'s level-0 list and seqlock version (a stale address is harmless).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public unsafe void PrefetchLevel0(GraphArrays g, uint node)
    {
        Metrics.VectorMath.PrefetchRange(System.Runtime.CompilerServices.Unsafe.AsPointer(ref g.Level0[(int)node * (M0 + 1)]), (M0 + 1) * sizeof(uint));
        Metrics.VectorMath.PrefetchRange(System.Runtime.CompilerServices.Unsafe.AsPointer(ref g.Versions[node]), sizeof(int));
    }

    /// <summary>Replaces <paramref name="node"/>'s list on <paramref name="level"/>. The caller holds <see cref="LockOf"/>(node).</summary>
    public void WriteLinks(GraphArrays g, uint node, int level, ReadOnlySpan<uint> links)
    {
        uint[] list;
        int start;
        if (level == 0) { list = g.Level0; start = (int)node * (M0 + 1); }
        else { list = g.Upper[node]!; start = (level - 1) * (M + 1); }
        if (links.Length > MaxLinks(level)) throw new ArgumentException("too many links", nameof(links));
        ref int version = ref g.Versions[node];
        Interlocked.Increment(ref version);
        list[start] = (uint)links.Length;
        links.CopyTo(list.AsSpan(start + 1));
        Interlocked.Increment(ref version);
    }

    /// <summary>Links of a node read while holding its lock (no seqlock retry needed).</summary>
    public ReadOnlySpan<uint> LinksUnderLock(GraphArrays g, uint node, int level)
    {
        if (level == 0)
        {
            int start = (int)node * (M0 + 1);
            return g.Level0.AsSpan(start + 1, (int)g.Level0[start]);
        }
        var list = g.Upper[node]!;
        int s = (level - 1) * (M + 1);
        return list.AsSpan(s + 1, (int)list[s]);
    }

    /// <summary>Prepares <paramref name="node"/>'s lists for <paramref name="level"/> (empty). Before the node is linked.</summary>
    public void InitializeNode(GraphArrays g, uint node, int level)
    {
        g.Levels[node] = (byte)level;
        g.Level0[(int)node * (M0 + 1)] = 0;
        g.Upper[node] = level > 0 ? new uint[level * (M + 1)] : null;
    }

    /// <summary>Marks <paramref name="node"/> deleted: still traversed, never returned.</summary>
    public void MarkDeleted(uint node) => Volatile.Write(ref Arrays.Deleted[node], 1);

    /// <summary>Whether <paramref name="node"/> is a tombstone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsDeleted(GraphArrays g, uint node) => g.Deleted[node] != 0;
}

/// <summary>The arrays of an <see cref="HnswGraph"/> at one capacity.</summary>
internal sealed class GraphArrays
{
    /// <summary>Nodes that fit.</summary>
    public readonly int Capacity;

    /// <summary>Level-0 lists: per node [count, link × 2M].</summary>
    public readonly uint[] Level0;

    /// <summary>Seqlock versions: odd while a writer changes the node's lists.</summary>
    public readonly int[] Versions;

    /// <summary>Top level per node.</summary>
    public readonly byte[] Levels;

    /// <summary>Upper-level lists per node: for level l ≥ 1, [count, link × M] at (l-1)·(M+1); null on level 0 only.</summary>
    public readonly uint[]?[] Upper;

    /// <summary>Tombstones (1 = deleted).</summary>
    public readonly byte[] Deleted;

    public GraphArrays(int capacity, int m)
    {
        Capacity = capacity;
        Level0 = new uint[(long)capacity * (2 * m + 1) > int.MaxValue ? throw new OutOfMemoryException("graph too large") : capacity * (2 * m + 1)];
        Versions = new int[capacity];
        Levels = new byte[capacity];
        Upper = new uint[]?[capacity];
        Deleted = new byte[capacity];
    }

    /// <summary>A copy with room for <paramref name="capacity"/> nodes.</summary>
    public GraphArrays Grow(int capacity, int m)
    {
        var g = new GraphArrays(capacity, m);
        Level0.CopyTo(g.Level0, 0);
        Levels.CopyTo(g.Levels, 0);
        Upper.CopyTo(g.Upper, 0);
        Deleted.CopyTo(g.Deleted, 0);
        return g;
    }
}
