using Retro.Core;

namespace Retro.Api.Tests.Doubles;

/// <summary>Bag of lower-cased words hashed into 64 dimensions, L2-normalised: texts sharing words are close.</summary>
internal sealed class HashingEncoder : ITextEncoder
{
    public int Dimension => 64;
    public string ModelId => "hashing@test";

    public void Encode(ReadOnlySpan<string> texts, Span<float> destination)
    {
        destination[..(texts.Length * Dimension)].Clear();
        for (int i = 0; i < texts.Length; i++)
        {
            var row = destination.Slice(i * Dimension, Dimension);
            foreach (var word in Words(texts[i])) row[(int)((uint)StableHash(word) % Dimension)] += 1f;
            float norm = MathF.Sqrt(System.Numerics.Tensors.TensorPrimitives.SumOfSquares(row));
            if (norm > 0) System.Numerics.Tensors.TensorPrimitives.Divide(row, norm, row);
        }
    }

    public static IEnumerable<string> Words(string text)
        => text.ToLowerInvariant().Split([' ', '.', ',', '?', '!', '\n', ':', ';'], StringSplitOptions.RemoveEmptyEntries);

    private static int StableHash(string s)
    {
        int h = 5381;
        foreach (char c in s) h = unchecked(h * 33 + c);
        return h;
    }
}

/// <summary>Cross-encoder double: the number of query words the candidate contains.</summary>
internal sealed class OverlapReranker : IReranker
{
    public string ModelId => "overlap@test";

    public void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores)
    {
        var words = HashingEncoder.Words(query).ToHashSet();
        for (int i = 0; i < candidates.Length; i++) scores[i] = HashingEncoder.Words(candidates[i]).Count(words.Contains);
    }
}
