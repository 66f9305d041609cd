using Retro.Engine.Cpu;
using Retro.Engine.Generation;
using Retro.Engine.Tests.Support;

namespace Retro.Engine.Onnx.Tests;

/// <summary>
/// One validation of what a decoder session is fed: the managed engine's sessions (alone and through the step batcher)
/// and ONNX Runtime's refuse the same bad feeds with the same message, before feeding anything.
/// </summary>
public sealed class SessionInputTests
{
    public static TheoryData<string, int> Engines => new() { { "managed", 1 }, { "managed", 2 }, { "onnx", 1 }, { "onnx", 2 } };

    private static (IRetroDecoder Decoder, IDisposable Owner) Load(string engine, int batchCapacity)
    {
        string folder = RepoPaths.Fixture("retro-tiny");
        if (engine == "onnx")
        {
            var onnx = OnnxRetroDecoder.Load(folder, new OnnxSessionFactory(OnnxDevice.Cpu, threads: 1), maxNeighbours: 2, batchCapacity: batchCapacity);
            return (onnx, onnx);
        }
        var backend = new CpuBackend(1);
        var managed = RetroDecoderAdapter.Load(folder, backend, maxNeighbours: 2, batchCapacity: batchCapacity);
        return (managed, new Both(managed, backend));
    }

    private sealed class Both(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose() { first.Dispose(); second.Dispose(); }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Bad_feeds_are_refused_alike_and_leave_the_session_as_it_was(string engine, int batchCapacity)
    {
        var (decoder, owner) = Load(engine, batchCapacity);
        using var _ = owner;
        using var session = decoder.CreateSession();
        int m = decoder.ChunkSize, v = decoder.VocabularySize;
        var logits = new float[v];
        session.Feed(new int[m - 2], [], logits); // one token short of completing chunk 0
        int length = session.Length;

        string Refused(int[] tokens, IReadOnlyList<int[]> neighbours, int logitsLength = -1)
        {
            var error = Should.Throw<ArgumentException>(() => session.Feed(tokens, neighbours, new float[logitsLength < 0 ? v : logitsLength]));
            session.Length.ShouldBe(length, error.Message);
            return error.Message;
        }

        Refused([], []).ShouldStartWith("no tokens to feed");
        Refused([1], [], logitsLength: v - 1).ShouldStartWith($"logits holds {v - 1} values, {v} needed");
        Refused([1, v], []).ShouldContain($"token at 1 is outside the vocabulary 0..{v - 1}");
        Refused([1, 2, 3], []).ShouldStartWith("token 1 of 3 (position " + (length + 1) + ") completes a chunk; only the last may");
        Refused([1], [[1, 2]]).ShouldStartWith("neighbours come only with the token that completes a chunk");
        Refused([1, 2], [[1, 2], [3, v]]).ShouldStartWith($"neighbour 1 of chunk 0: token {v} at 1 is outside the vocabulary 0..{v - 1}");
        Refused(new int[decoder.MaxSequenceLength], []).ShouldStartWith($"sequence of {length + decoder.MaxSequenceLength} tokens exceeds the session's {decoder.MaxSequenceLength}");

        session.Feed([1, 2], [[1, 2], [-1, 3]], logits); // and a good one still goes through
        session.Length.ShouldBe(length + 2);
    }
}
