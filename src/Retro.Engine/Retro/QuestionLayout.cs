namespace Retro.Engine.Retro;

/// <summary>
/// How the neighbours of a question's chunk reach the encoder (<c>question_layout</c> in <c>config.json</c>; the
/// question's chunk is the last chunk of the left-padded question, and every other chunk's neighbour is its chunk
/// followed by its continuation).
/// </summary>
public enum QuestionLayout
{
    /// <summary>As every other chunk: the retrieved chunk, then its continuation (files without the key).</summary>
    Chunk = 0,

    /// <summary>
    /// The question chunk's own m tokens, then the retrieved chunk and its continuation, cut to r: the passage stands
    /// where RETRO puts a neighbour's continuation, aligned with the answer the decoder writes next.
    /// </summary>
    Answer = 1,
}
