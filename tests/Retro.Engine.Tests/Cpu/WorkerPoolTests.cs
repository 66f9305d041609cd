using Retro.Engine.Cpu;

namespace Retro.Engine.Tests.Cpu;

/// <summary>The worker pool under concurrent callers: every part of a job runs exactly once, and never after Run returned.</summary>
public sealed class WorkerPoolTests
{
    private sealed class CountingJob(int parts) : ParallelJob
    {
        public readonly int[] Runs = new int[parts];
        public volatile bool Returned;
        public int LateParts;

        public override void Execute(int part, int parts)
        {
            if (Returned) Interlocked.Increment(ref LateParts);
            Interlocked.Increment(ref Runs[part]);
            Thread.SpinWait(20 + part % 7 * 30); // uneven parts, so claims interleave with the next job's start
            if (Returned) Interlocked.Increment(ref LateParts);
        }
    }

    [Fact]
    public void Concurrent_callers_each_get_every_part_exactly_once_and_nothing_after_return()
    {
        using var pool = new WorkerPool(3);
        int failures = 0;
        string? example = null;
        var callers = Enumerable.Range(0, 3).Select(c => new Thread(() =>
        {
            var random = new Random(c);
            for (int i = 0; i < 5000; i++)
            {
                var job = new CountingJob(random.Next(2, 9));
                pool.Run(job, job.Runs.Length);
                job.Returned = true;
                Thread.SpinWait(random.Next(0, 200)); // a late worker would run a part of this job now
                if (job.Runs.Any(r => r != 1) || Volatile.Read(ref job.LateParts) != 0)
                {
                    Interlocked.Increment(ref failures);
                    example ??= $"runs [{string.Join(", ", job.Runs)}], parts after return {job.LateParts}";
                }
            }
        })).ToList();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());
        failures.ShouldBe(0, example);
    }
}
