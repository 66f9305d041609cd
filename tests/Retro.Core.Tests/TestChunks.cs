using Retro.Core;

namespace Retro.Core.Tests;

internal static class TestChunks
{
    public static Chunk Make(string document, int ordinal, string text = "text", IReadOnlyDictionary<string, string>? metadata = null) => new(
        ChunkId.From(document, ordinal), document, "https://" + document, ordinal, text, [1, 2, 3], "more", [4, 5],
        metadata ?? new Dictionary<string, string>());
}
