using Retro.Api.Tests.Doubles;
using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Generation;

namespace Retro.Api.Tests.Generation;

public sealed class RetroGeneratorTests
{
    private static readonly GenerationOptions Greedy = new() { MaxTokens = 4 };

    [Fact]
    public async Task A_question_is_left_padded_to_whole_chunks_and_retrieved_for_with_its_own_text()
    {
        var decoder = new ScriptedDecoder(chunkSize: 8);
        var retriever = new RecordingRetriever();
        var events = await Collect(new RetroGenerator(decoder), new GenerationRequest("hello world", Greedy, new RetrievalOptions(), IsQuestion: true), retriever);

        var feeds = decoder.Feeds.ToList();
        int[] fed = feeds.TakeWhile(f => f.Position < 16).SelectMany(f => f.Tokens).ToArray();
        fed.Length.ShouldBe(16);
        fed[..5].ShouldAllBe(t => t == ByteTokenizer.Pad); // 11 bytes padded to 16
        var retrievals = events.OfType<ChunkRetrievedEvent>().ToList();
        retrievals.Select(e => e.ChunkIndex).ShouldBe([0, 1]);
        retrievals[1].Query.ShouldBe("hello world"); // the question's last chunk is retrieved for with the question itself
        retriever.Queries.ShouldContain("hello world");
        events.OfType<TokenGeneratedEvent>().First().Position.ShouldBe(16);
        // Neighbours come only with the token that completes their chunk.
        feeds.Where(f => f.Neighbours.Length > 0).ShouldAllBe(f => (f.Position + f.Tokens.Length) % 8 == 0);
    }

    [Fact]
    public async Task A_model_with_the_answer_layout_gets_the_question_chunk_before_its_best_neighbours_and_the_usual_layout_elsewhere()
    {
        var decoder = new ScriptedDecoder(chunkSize: 8, neighbourLength: 16) { QuestionLayout = Retro.Engine.Retro.QuestionLayout.Answer, QuestionNeighbours = 1 };
        var retriever = new RecordingRetriever { NeighbourTokens = 12 };
        await Collect(new RetroGenerator(decoder), new GenerationRequest("What is a b?", Greedy with { MaxTokens = 12 }, new RetrievalOptions { K = 2 }, IsQuestion: true), retriever);

        var withNeighbours = decoder.Feeds.Where(f => f.Neighbours.Length > 0).OrderBy(f => f.Position).ToList();
        withNeighbours.Count.ShouldBe(3); // question chunks 0 and 1, generated chunk 2
        int[] fed = decoder.Feeds.OrderBy(f => f.Position).SelectMany(f => f.Tokens).ToArray();
        int[] questionChunk = fed[8..16];

        var question = withNeighbours[1]; // the last question chunk: one neighbour, question chunk first, cut to r
        question.Neighbours.Length.ShouldBe(1);
        question.Neighbours[0].Length.ShouldBe(16);
        question.Neighbours[0][..8].ShouldBe(questionChunk);
        int[] best = Enumerable.Range(0, 8).Select(i => 'a' + (i + "What is a b?".Length) % 26).ToArray();
        question.Neighbours[0][8..].ShouldBe(best); // then the best neighbour's own tokens
        withNeighbours[0].Neighbours.Length.ShouldBe(2); // the padded first chunk and generated chunks: as always
        withNeighbours[2].Neighbours.Length.ShouldBe(2);
        withNeighbours[2].Neighbours[0].Length.ShouldBe(12);
    }

    [Theory]
    [InlineData(0.0, 0, 2)]
    [InlineData(0.875, 0, 2)]
    [InlineData(0.9, 0, 1)] // neighbour 1 repeats 7 of the chunk's 8 tokens, neighbour 0 all of them
    [InlineData(0.0, 7, 2)] // both hold "jklmnop" with a token after it
    [InlineData(0.0, 8, 1)] // only neighbour 0 holds the whole chunk, where the next one starts
    [InlineData(0.875, 8, 1)]
    public async Task The_neighbour_gate_keeps_the_neighbours_that_repeat_their_chunk(double minMatch, int tail, int read)
    {
        var decoder = new ScriptedDecoder(chunkSize: 8);
        var retriever = new RecordingRetriever { NeighbourTokens = 12 }; // neighbour j of "ijklmnop": "ijkl…" shifted by j
        var events = await Collect(new RetroGenerator(decoder), new GenerationRequest("ijklmnopq", Greedy, new RetrievalOptions { K = 2, MinNeighbourMatch = minMatch, NeighbourTail = tail }), retriever);
        var fed = decoder.Feeds.Single(f => f.Neighbours.Length > 0 || f.Position + f.Tokens.Length == 8);
        fed.Neighbours.Length.ShouldBe(read);
        fed.Neighbours[0][..8].ShouldBe("ijklmnop".Select(c => (int)c).ToArray());
        var retrieved = events.OfType<ChunkRetrievedEvent>().Single();
        retrieved.Neighbours.Count.ShouldBe(2); // the event lists every neighbour retrieved, and says which were read
        retrieved.Read.ShouldBe(read == 2 ? [true, true] : [true, false]);
    }

    [Fact]
    public async Task The_neighbour_copy_continues_the_text_where_a_neighbour_runs_on_and_is_off_on_request()
    {
        var copy = new Retro.Engine.Retro.NeighbourCopy
        {
            MaxMatch = 32, MatchEdges = [1, 4], LambdaRead = [0.5, 0.99], LambdaUnread = [0.2, 0.9],
        };
        var decoder = new ScriptedDecoder(chunkSize: 8) { NeighbourCopy = copy };
        // neighbour 0 of "ijklmnop" is "ijklmnopqrst", neighbour 1 "jklmnopqrstu": the prompt runs on in both
        var request = new GenerationRequest("ijklmnopq", Greedy, new RetrievalOptions { K = 2, MinNeighbourMatch = 0.9 });
        var events = await Collect(new RetroGenerator(decoder), request, new RecordingRetriever { NeighbourTokens = 12 });
        events.OfType<ChunkRetrievedEvent>().Single().Read.ShouldBe([true, false]);
        // r, s, t from neighbour 0 (read); after t it has nothing more, and unread neighbour 1 proposes u
        events.OfType<GenerationCompletedEvent>().Single().Text.ShouldBe("rstu");

        var off = await Collect(new RetroGenerator(new ScriptedDecoder(chunkSize: 8) { NeighbourCopy = copy }),
            request with { Retrieval = request.Retrieval with { NeighbourCopy = false } }, new RecordingRetriever { NeighbourTokens = 12 });
        var plain = await Collect(new RetroGenerator(new ScriptedDecoder(chunkSize: 8)), request, new RecordingRetriever { NeighbourTokens = 12 });
        string text = off.OfType<GenerationCompletedEvent>().Single().Text;
        text.ShouldNotBe("rstu");
        text.ShouldBe(plain.OfType<GenerationCompletedEvent>().Single().Text); // off = a decoder without a copy
        var closed = await Collect(new RetroGenerator(new ScriptedDecoder(chunkSize: 8) { NeighbourCopy = copy }), request, NullRetriever.Instance);
        closed.OfType<GenerationCompletedEvent>().Single().Text.ShouldNotBe("rstu"); // nothing retrieved, nothing to copy

        // a question's own passages are not copied from: "ijklmnop" asked as a question runs on in its neighbour
        // "ijklmnopqrst" as the prompt above does, and the answer is the decoder's alone
        var question = new GenerationRequest("ijklmnop", Greedy, new RetrievalOptions { K = 2 }, IsQuestion: true);
        var asked = await Collect(new RetroGenerator(new ScriptedDecoder(chunkSize: 8) { NeighbourCopy = copy }), question, new RecordingRetriever { NeighbourTokens = 12 });
        var askedPlain = await Collect(new RetroGenerator(new ScriptedDecoder(chunkSize: 8)), question, new RecordingRetriever { NeighbourTokens = 12 });
        string answer = asked.OfType<GenerationCompletedEvent>().Single().Text;
        answer.ShouldNotStartWith("q");
        answer.ShouldBe(askedPlain.OfType<GenerationCompletedEvent>().Single().Text);
    }

    [Fact]
    public async Task The_neighbour_gate_never_drops_a_questions_own_neighbours()
    {
        var decoder = new ScriptedDecoder(chunkSize: 8, neighbourLength: 16) { QuestionLayout = Retro.Engine.Retro.QuestionLayout.Answer, QuestionNeighbours = 1 };
        var retriever = new RecordingRetriever { NeighbourTokens = 12 };
        var events = await Collect(new RetroGenerator(decoder), new GenerationRequest("What is a b?", Greedy, new RetrievalOptions { K = 2, MinNeighbourMatch = 1 }, IsQuestion: true), retriever);
        events.OfType<ChunkRetrievedEvent>().Select(e => e.Read).ShouldBe([[false, false], [true, false]]);
        var fed = decoder.Feeds.Where(f => (f.Position + f.Tokens.Length) % 8 == 0).OrderBy(f => f.Position).ToList();
        fed.Count.ShouldBe(2);
        fed[0].Neighbours.ShouldBeEmpty(); // the padded first chunk shares nothing with its neighbours
        fed[1].Neighbours.Length.ShouldBe(1); // the question chunk: its best neighbour, gate or not
    }

    [Theory]
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 9, 2, 3, 7 }, 0.5)]
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 5, 6, 7, 8 }, 0.0)]
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 3, 4, 1, 2, 3, 4 }, 1.0)]
    [InlineData(new[] { 5, 5, 5 }, new[] { 5, 5 }, 2.0 / 3)]
    [InlineData(new int[0], new[] { 1 }, 0.0)]
    public void NeighbourGate_match_is_the_longest_shared_run_over_the_chunk(int[] chunk, int[] neighbour, double expected)
        => NeighbourGate.Match(chunk, neighbour).ShouldBe(expected, 1e-12);

    [Theory]
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 9, 3 }, new[] { 4, 5 }, 2, true)] // across the chunk and its continuation
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 9, 3 }, new[] { 4 }, 2, false)] // nothing after it: it does not continue
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 4, 3, 9 }, new int[0], 2, false)] // the tokens, not in order
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 7, 8 }, new int[0], 0, true)] // the test off
    [InlineData(new[] { 3, 4 }, new[] { 3, 4, 5 }, new int[0], 5, true)] // a short chunk is tested whole
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 2, 3, 4, 1, 2, 3, 4 }, new int[0], 4, false)]
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 2, 3, 4, 1, 2, 3, 4, 0 }, new int[0], 4, true)]
    public void NeighbourGate_tail_asks_for_the_chunks_end_with_a_token_after_it(int[] chunk, int[] tokens, int[] continuation, int tail, bool expected)
    {
        var neighbour = new Chunk(ChunkId.From("d", 0), "d", "", 0, "t", tokens, "", continuation, new Dictionary<string, string>());
        NeighbourGate.HasTail(chunk, neighbour, tail).ShouldBe(expected);
        NeighbourGate.Reads(chunk, neighbour, 0, tail).ShouldBe(expected);
    }

    [Fact]
    public async Task Neighbours_are_truncated_to_r_tokens()
    {
        var decoder = new ScriptedDecoder(chunkSize: 8, neighbourLength: 5);
        var retriever = new RecordingRetriever { NeighbourTokens = 12 };
        await Collect(new RetroGenerator(decoder), new GenerationRequest("abcdefgh", Greedy, new RetrievalOptions { K = 2 }), retriever);
        decoder.Feeds.Where(f => f.Neighbours.Length > 0).SelectMany(f => f.Neighbours).ShouldAllBe(n => n.Length == 5);
    }

    [Fact]
    public async Task The_prompt_chunks_are_retrieved_concurrently_when_overlapping()
    {
        var decoder = new ScriptedDecoder(chunkSize: 8);
        // Each retrieval waits until all four have started: sequential retrieval would never get there.
        var retriever = new RecordingRetriever { Barrier = 4 };
        var request = new GenerationRequest(new string('x', 35), Greedy, new RetrievalOptions());
        var events = await Collect(new RetroGenerator(decoder), request, retriever);
        events.OfType<ChunkRetrievedEvent>().Select(e => e.ChunkIndex).ShouldBe([0, 1, 2, 3]); // position 39 would complete chunk 4, but the last token is never fed
        retriever.Timeouts.ShouldBe(0);

        var sequential = new RecordingRetriever();
        var again = await Collect(new RetroGenerator(new ScriptedDecoder(chunkSize: 8)) { OverlapPromptRetrieval = false }, request, sequential);
        again.OfType<TokenGeneratedEvent>().Select(t => t.TokenId).ShouldBe(events.OfType<TokenGeneratedEvent>().Select(t => t.TokenId));
    }

    [Fact]
    public async Task Eos_ends_generation_without_being_emitted()
    {
        var decoder = new ScriptedDecoder(chunkSize: 8) { EosAtLength = 6 };
        var events = await Collect(new RetroGenerator(decoder), new GenerationRequest("abc", new GenerationOptions { MaxTokens = 20 }, new RetrievalOptions()), NullRetriever.Instance);
        var done = events.OfType<GenerationCompletedEvent>().Single();
        done.FinishReason.ShouldBe("eos");
        done.Stats.GeneratedTokens.ShouldBe(3);
        events.OfType<TokenGeneratedEvent>().ShouldAllBe(t => t.TokenId != ByteTokenizer.Eos);
    }

    [Fact]
    public async Task Cancellation_stops_generation()
    {
        using var cts = new CancellationTokenSource();
        var generator = new RetroGenerator(new ScriptedDecoder(chunkSize: 8));
        int tokens = 0;
        await Should.ThrowAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in generator.GenerateAsync(new GenerationRequest("abc", new GenerationOptions { MaxTokens = 100 }, new RetrievalOptions()), NullRetriever.Instance, cts.Token))
                if (e is TokenGeneratedEvent && ++tokens == 3) cts.Cancel();
        });
        tokens.ShouldBe(3);
    }

    private static async Task<List<GenerationEvent>> Collect(IGenerator generator, GenerationRequest request, IRetriever retriever)
    {
        var list = new List<GenerationEvent>();
        await foreach (var e in generator.GenerateAsync(request, retriever)) list.Add(e);
        return list;
    }

    private sealed class RecordingRetriever : IRetriever
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Queries { get; } = new();
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _arrived;

        /// <summary>When positive, each call waits until this many calls have started.</summary>
        public int Barrier { get; init; }
        public int NeighbourTokens { get; init; } = 4;
        public int Timeouts;

        public async ValueTask<RetrievalResult> RetrieveAsync(string query, RetrievalOptions options, CancellationToken cancellationToken = default)
        {
            Queries.Enqueue(query);
            if (Barrier > 0)
            {
                if (Interlocked.Increment(ref _arrived) == Barrier) _all.TrySetResult();
                try { await _all.Task.WaitAsync(TimeSpan.FromSeconds(20), cancellationToken); } // hang guard, not a speed assertion
                catch (TimeoutException) { Interlocked.Increment(ref Timeouts); }
            }
            var neighbours = new List<Neighbour>();
            for (int j = 0; j < options.K; j++)
            {
                int[] tokens = Enumerable.Range(0, NeighbourTokens).Select(i => 'a' + (i + j + query.Length) % 26).ToArray();
                neighbours.Add(new Neighbour(new Chunk(ChunkId.From("d", j), "d", "", j, "t", tokens, "", [], new Dictionary<string, string>()), 1f));
            }
            return new RetrievalResult(neighbours, new RetrievalTimings());
        }
    }
}
