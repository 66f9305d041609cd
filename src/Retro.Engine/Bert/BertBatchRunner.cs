using System.Collections.Concurrent;
using Retro.Tokenizers;

namespace Retro.Engine.Bert;

/// <summary>
/// Shared machinery of <see cref="BertTextEncoder"/> and <see cref="BertReranker"/>: tokenized inputs sorted by
/// length into batches padded to their longest member, run on pooled run states (one per concurrent caller).
/// </summary>
internal sealed class BertBatchRunner : IDisposable
{
    private readonly ConcurrentBag<Lease> _idle = [];
    private readonly List<Lease> _all = [];
    private readonly Lock _allGate = new();
    private bool _disposed;

    public BertBatchRunner(BertEncoder encoder, int maxBatch, int maxLength, int padId)
    {
        Encoder = encoder;
        MaxBatch = maxBatch;
        MaxLength = maxLength;
        PadId = padId;
    }

    public BertEncoder Encoder { get; }
    public int MaxBatch { get; }
    public int MaxLength { get; }
    public int PadId { get; }

    /// <summary>Per-caller state: activations plus host staging arrays.</summary>
    public sealed class Lease(BertRunState state, int maxRows, int maxBatch, int hidden) : IDisposable
    {
        public BertRunState State { get; } = state;
        public int[] Ids { get; } = new int[maxRows];
        public int[] Types { get; } = new int[maxRows];
        public int[] Mask { get; } = new int[maxRows];
        public float[] Output { get; } = new float[maxBatch * Math.Max(hidden, 1)];
        public void Dispose() => State.Dispose();
    }

    /// <summary>
    /// Runs <paramref name="inputs"/> in length-sorted batches; after each forward pass, <paramref name="consume"/>
    /// gets the lease, the batch's input indices (in batch order) and the padded length.
    /// </summary>
    public void Run(IReadOnlyList<ModelInput> inputs, Action<Lease, ReadOnlySpan<int>, int> consume)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (inputs.Count == 0) return;
        var order = new int[inputs.Count];
        var lengths = new int[inputs.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
            lengths[i] = inputs[i].Length;
        }
        Array.Sort(lengths, order);

        var lease = Rent();
        try
        {
            for (int start = 0; start < order.Length; start += MaxBatch)
            {
                int batch = Math.Min(MaxBatch, order.Length - start);
                var members = order.AsSpan(start, batch);
                int length = lengths[start + batch - 1];
                int rows = batch * length;
                for (int j = 0; j < batch; j++)
                {
                    var input = inputs[members[j]];
                    int n = input.Length, at = j * length;
                    input.InputIds.CopyTo(lease.Ids, at);
                    input.TypeIds.CopyTo(lease.Types, at);
                    input.AttentionMask.CopyTo(lease.Mask, at);
                    lease.Ids.AsSpan(at + n, length - n).Fill(PadId);
                    lease.Types.AsSpan(at + n, length - n).Clear();
                    lease.Mask.AsSpan(at + n, length - n).Clear();
                }
                Encoder.Forward(lease.State, lease.Ids.AsSpan(0, rows), lease.Types.AsSpan(0, rows), lease.Mask.AsSpan(0, rows), batch, length);
                consume(lease, members, length);
            }
        }
        finally
        {
            _idle.Add(lease);
        }
    }

    private Lease Rent()
    {
        if (_idle.TryTake(out var lease)) return lease;
        var state = Encoder.CreateState(MaxBatch, MaxLength);
        lease = new Lease(state, MaxBatch * MaxLength, MaxBatch, Encoder.Config.HiddenSize);
        lock (_allGate) _all.Add(lease);
        return lease;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_allGate)
        {
            foreach (var l in _all) l.Dispose();
            _all.Clear();
        }
    }
}
