namespace Retro.VectorStore;

/// <summary>
/// Which nodes (dense internal offsets) a search may return, checked per candidate inside the walk as qdrant does. Its
/// own file at the store's root: the graph search (<c>Hnsw/</c>), the BM25 index (<c>Text/</c>) and the id tracker's
/// filter (<c>Vectors/</c>) all use it, and none of those folders depends on another for it.
/// </summary>
internal interface INodeFilter
{
    /// <summary>Whether <paramref name="node"/> may be returned.</summary>
    bool Accepts(uint node);
}
