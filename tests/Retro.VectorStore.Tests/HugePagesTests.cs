using System.Globalization;
using System.Runtime.InteropServices;
using Retro.VectorStore.Vectors;

namespace Retro.VectorStore.Tests;

/// <summary>The huge-page hint on vector memory: it reaches the kernel (the mapping carries VmFlags "hg") for native and file segments.</summary>
public sealed unsafe class HugePagesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("retro-hugepages-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Advise_WithoutAWholeHugePage_DoesNothing()
    {
        void* p = NativeMemory.AlignedAlloc((nuint)HugePages.Size, (nuint)HugePages.Size);
        try
        {
            HugePages.Advise((byte*)p + 4096, HugePages.Size - 4096).ShouldBeFalse();
            HugePages.Advise(p, 0).ShouldBeFalse();
        }
        finally
        {
            NativeMemory.AlignedFree(p);
        }
    }

    [HugePagesFact]
    public void NativeSegments_AreAdvised()
    {
        using var storage = VectorStorage.InMemory(384);
        storage.EnsureCapacity(1);
        storage.Write(0, new float[384]);
        HasHugePageFlag((nint)storage.Pointer(0) + (nint)HugePages.Size).ShouldBeTrue();
    }

    [HugePagesFact]
    public void FileSegments_AreAdvised()
    {
        using var storage = VectorStorage.OpenFile(Path.Combine(_directory, "vectors.bin"), 384, out _);
        storage.EnsureCapacity(1);
        storage.Write(0, Enumerable.Repeat(1f, 384).ToArray());
        HasHugePageFlag((nint)storage.Pointer(0) + (nint)HugePages.Size).ShouldBeTrue();
        storage.Get(0)[383].ShouldBe(1f);
    }

    /// <summary>Whether the mapping that holds <paramref name="address"/> has VM_HUGEPAGE ("hg" in /proc/self/smaps).</summary>
    private static bool HasHugePageFlag(nint address)
    {
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, null, out ulong start)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, null, out ulong end))
            {
                inside = (ulong)address >= start && (ulong)address < end;
                continue;
            }
            if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal)) return line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("hg");
        }
        return false;
    }
}

/// <summary>A fact that needs transparent huge pages: skipped (never passed) off Linux, without THP, or with RETRO_HUGEPAGES=0.</summary>
public sealed class HugePagesFactAttribute : FactAttribute
{
    public HugePagesFactAttribute()
    {
        if (!(OperatingSystem.IsLinux() && HugePages.Enabled && Directory.Exists("/sys/kernel/mm/transparent_hugepage")))
            Skip = "transparent huge pages need Linux with THP (and RETRO_HUGEPAGES not 0)";
    }
}
