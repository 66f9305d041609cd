using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Retro.Engine.Cpu;

/// <summary>A unit of parallel work: <see cref="Execute"/> runs part <c>part</c> of <c>parts</c>.</summary>
internal abstract class ParallelJob
{
    /// <summary>Runs one part; parts are claimed dynamically, so part order is arbitrary.</summary>
    public abstract void Execute(int part, int parts);
}

/// <summary>
/// Fixed worker threads for data-parallel kernels (no per-call allocation, unlike Parallel.For with closures).
/// The calling thread works too; parts are claimed dynamically (a shared machine steals cores unevenly);
/// concurrent callers are serialised, which on a few cores is also the fastest.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _start = new(0);
    private readonly ManualResetEventSlim _done = new(false, spinCount: 100);
    private readonly Lock _gate = new();
    private ParallelJob? _job;
    private int _parts;
    private int _epoch;
    private long _claims;      // (epoch << 32) | next part: a claim names the job it belongs to
    private int _remaining;
    private Exception? _error;
    private volatile bool _disposed;

    public WorkerPool(int threads)
    {
        Parallelism = Math.Max(1, threads);
        _threads = new Thread[Parallelism - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"retro-cpu-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads that run parts (the caller included).</summary>
    public int Parallelism { get; }

    /// <summary>Runs parts 0..parts−1 of <paramref name="job"/> and returns when all have finished; rethrows a part's exception.</summary>
    public void Run(ParallelJob job, int parts)
    {
        if (parts <= 0) return;
        if (parts == 1 || _threads.Length == 0)
        {
            for (int i = 0; i < parts; i++) job.Execute(i, parts);
            return;
        }

        lock (_gate)
        {
            // The epoch moves first. A worker holding a stale claim (an extra one, past the previous job's parts)
            // reads the job's fields and then the epoch: with the fields written after the epoch, either it sees the
            // new epoch and gives up, or it read the previous job's fields and its part is out of range. (Written
            // the other way round, a stale claim could pass against the new job's fields and run one of its parts
            // twice: _remaining then reached 0 early, Run returned while a part still ran on the caller's buffers,
            // and that part's failure surfaced in the next job: seen as a NullReferenceException in Gemm.Store
            // thrown from Attention.Run while the service ingested with concurrent embedders.)
            int epoch = _epoch + 1;
            Volatile.Write(ref _epoch, epoch);
            _done.Reset();
            _error = null;
            Volatile.Write(ref _job, job);
            Volatile.Write(ref _parts, parts);
            Volatile.Write(ref _remaining, parts);
            Interlocked.Exchange(ref _claims, (long)epoch << 32);
            _start.Release(Math.Min(_threads.Length, parts - 1));
            Work();
            _done.Wait();
            _job = null;
            if (_error is { } error) ExceptionDispatchInfo.Throw(error);
        }
    }

    private void Work()
    {
        while (true)
        {
            long claim = Interlocked.Increment(ref _claims) - 1;
            int epoch = (int)(claim >> 32);
            int part = (int)claim;
            var job = Volatile.Read(ref _job);
            int parts = Volatile.Read(ref _parts);
            // A late worker may claim from a newer job than the one it woke for; the epoch check after reading
            // the job's fields proves they belong to the claim's job (which cannot finish while this part is open),
            // because Run writes the epoch before the fields (see there).
            if (Volatile.Read(ref _epoch) != epoch || part >= parts) return;
            Debug.Assert(job is not null);
            try
            {
                job.Execute(part, parts);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
            if (Interlocked.Decrement(ref _remaining) == 0) _done.Set();
        }
    }

    private void WorkerLoop()
    {
        while (true)
        {
            _start.Wait();
            if (_disposed) return;
            Work();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_threads.Length > 0) _start.Release(_threads.Length);
        foreach (var t in _threads) t.Join();
        _start.Dispose();
        _done.Dispose();
    }
}
