using System.Runtime.InteropServices;

namespace Retro.VectorStore.Vectors;

/// <summary>
/// Asks Linux to back a region with 2 MiB pages (<c>madvise(MADV_HUGEPAGE)</c>): a search reads scattered vectors
/// across hundreds of megabytes, and with 4 KiB pages almost every one of those reads also misses the TLB. Anonymous
/// memory gets transparent huge pages at fault time; a file mapping gets them where the filesystem caches the file in
/// large folios (ext4 since Linux 6.16) and the mapping is 2 MiB-congruent with its file offset (the kernel places it
/// so). A hint only: elsewhere, or when refused, nothing changes.
/// </summary>
internal static unsafe partial class HugePages
{
    /// <summary>Size of a huge page on x86-64 and arm64 (4 KiB base pages).</summary>
    public const long Size = 2L << 20;

    private const int MadvHugePage = 14;

    /// <summary>Whether the hint is enabled (<c>RETRO_HUGEPAGES=0</c> turns it off, for measuring its effect).</summary>
    public static bool Enabled { get; } = OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("RETRO_HUGEPAGES") != "0";

    /// <summary>Advises the whole 2 MiB pages inside [<paramref name="start"/>, +<paramref name="bytes"/>); returns whether the kernel took it.</summary>
    public static bool Advise(void* start, long bytes)
    {
        if (!Enabled) return false;
        long from = ((long)start + Size - 1) & ~(Size - 1), to = ((long)start + bytes) & ~(Size - 1);
        if (to <= from) return false;
        try
        {
            return Madvise((nint)from, (nuint)(to - from), MadvHugePage) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
