// KoSIT proxy for bench/bench_validate.py: the rule work of the KoSIT validator, in one warm JVM.
//
// It runs the SAME Schematron XSLTs that our Python engine runs (EN16931 + XRechnung for each document's
// scenario, named per document in a manifest written by the bench) on the same documents with the same number
// of threads, the way the KoSIT validator does it: one shared Saxon Processor, each XSLT compiled once into an
// XsltExecutable shared by all threads, each document parsed once into a Saxon tree and every XSLT of its
// scenario applied to that tree, the SVRL result built as a tree and its failed-asserts/successful-reports read
// (id, flag, location, text), as KoSIT does before building its report.
//
// Not timed: JVM start, reading the documents into memory, compiling the XSLTs (reported separately), and the
// warm-up passes (reported separately; they let the JIT compile the hot paths).
//
// Usage: java -cp <build>:/usr/share/java/Saxon-HE.jar KositProxy MANIFEST THREADS
//   MANIFEST: UTF-8 text, one document per line: <document path> TAB <xslt path> [TAB <xslt path> ...]
// After loading it prints one JSON line ({"ready": true, ...}) and then obeys commands read from stdin, one per
// line, answering each with one JSON line: "warmup N" (N untimed passes), "pass" (one timed pass over all
// documents), "quit" (peak RSS, then exit). The bench alternates our timed passes with the proxy's, so that both
// see the same machine load.

import java.io.File;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.xml.transform.stream.StreamSource;

import net.sf.saxon.s9api.Axis;
import net.sf.saxon.s9api.DocumentBuilder;
import net.sf.saxon.s9api.Processor;
import net.sf.saxon.s9api.QName;
import net.sf.saxon.s9api.XdmDestination;
import net.sf.saxon.s9api.XdmNode;
import net.sf.saxon.s9api.XdmNodeKind;
import net.sf.saxon.s9api.XdmSequenceIterator;
import net.sf.saxon.s9api.Xslt30Transformer;
import net.sf.saxon.s9api.XsltCompiler;
import net.sf.saxon.s9api.XsltExecutable;

public final class KositProxy {
    static final String SVRL = "http://purl.oclc.org/dsdl/svrl";
    static final QName ID = new QName("id");
    static final QName FLAG = new QName("flag");
    static final QName LOCATION = new QName("location");

    static final class Doc {
        final String path;
        final byte[] bytes;
        final XsltExecutable[] xslts;
        Doc(String path, byte[] bytes, XsltExecutable[] xslts) { this.path = path; this.bytes = bytes; this.xslts = xslts; }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: KositProxy MANIFEST THREADS");
            System.exit(2);
        }
        List<String> lines = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8);
        int threads = Integer.parseInt(args[1]);

        Processor processor = new Processor(false);  // Saxon-HE
        XsltCompiler compiler = processor.newXsltCompiler();

        long t0 = System.nanoTime();
        Map<String, XsltExecutable> compiled = new LinkedHashMap<>();
        for (String line : lines) {
            if (line.isBlank()) continue;
            String[] f = line.split("\t");
            for (int i = 1; i < f.length; i++) {
                if (!compiled.containsKey(f[i])) {
                    compiled.put(f[i], compiler.compile(new StreamSource(new File(f[i]))));
                }
            }
        }
        double compileS = (System.nanoTime() - t0) / 1e9;

        // Documents into memory (same bytes the Python side gets), each paired with its scenario's XSLTs.
        Map<String, byte[]> cache = new LinkedHashMap<>();
        List<Doc> docs = new ArrayList<>();
        for (String line : lines) {
            if (line.isBlank()) continue;
            String[] f = line.split("\t");
            byte[] bytes = cache.get(f[0]);
            if (bytes == null) {
                bytes = Files.readAllBytes(Path.of(f[0]));
                cache.put(f[0], bytes);
            }
            XsltExecutable[] xs = new XsltExecutable[f.length - 1];
            for (int i = 1; i < f.length; i++) xs[i - 1] = compiled.get(f[i]);
            docs.add(new Doc(f[0], bytes, xs));
        }

        Runtime rt = Runtime.getRuntime();
        System.out.println("{\"ready\": true, \"saxon\": \"" + processor.getSaxonProductVersion() + "\", \"java\": \""
                + System.getProperty("java.version") + "\", \"docs\": " + docs.size() + ", \"distinct_docs\": "
                + cache.size() + ", \"xslts\": " + compiled.size() + ", \"threads\": " + threads
                + ", \"compile_s\": " + fmt(compileS) + "}");
        System.out.flush();

        // Commands from the bench, one per line, so that its timed passes can alternate with ours:
        //   warmup N  -> N untimed passes;  pass -> one timed pass;  quit -> final figures, exit.
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String cmd = in.readLine(); cmd != null; cmd = in.readLine()) {
            cmd = cmd.trim();
            if (cmd.startsWith("warmup")) {
                int passes = Integer.parseInt(cmd.substring(6).trim());
                long t1 = System.nanoTime();
                for (int p = 0; p < passes; p++) runPass(processor, docs, threads);
                System.out.println("{\"warmup_passes\": " + passes + ", \"warmup_s\": " + fmt((System.nanoTime() - t1) / 1e9) + "}");
            } else if (cmd.equals("pass")) {
                long t2 = System.nanoTime();
                long[] r = runPass(processor, docs, threads);
                double timedS = (System.nanoTime() - t2) / 1e9;
                System.out.println("{\"timed_s\": " + fmt(timedS) + ", \"docs_per_s\": " + fmt(docs.size() / timedS)
                        + ", \"docs_with_error_asserts\": " + r[0] + ", \"messages\": " + r[1] + "}");
            } else if (cmd.equals("quit")) {
                System.out.println("{\"vm_hwm_mb\": " + (vmHwmKb() >> 10) + ", \"heap_committed_mb\": "
                        + (rt.totalMemory() >> 20) + ", \"heap_max_mb\": " + (rt.maxMemory() >> 20) + "}");
                System.out.flush();
                return;
            } else {
                System.out.println("{\"error\": \"unknown command\"}");
            }
            System.out.flush();
        }
    }

    static String fmt(double v) {
        return String.format(java.util.Locale.ROOT, "%.4f", v);
    }

    /** Peak resident set size of this JVM (VmHWM), kB; -1 where /proc is not available. */
    static long vmHwmKb() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmHWM:")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        } catch (Exception e) {
            // not Linux
        }
        return -1;
    }

    /** One pass over all documents on {@code threads} threads; returns {docs with fatal/error asserts, messages}. */
    static long[] runPass(Processor processor, List<Doc> docs, int threads) throws Exception {
        AtomicInteger next = new AtomicInteger();
        AtomicLong docsWithErrors = new AtomicLong();
        AtomicLong messages = new AtomicLong();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread[] pool = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            pool[t] = new Thread(() -> {
                DocumentBuilder builder = processor.newDocumentBuilder();
                List<String[]> found = new ArrayList<>();
                try {
                    for (int i = next.getAndIncrement(); i < docs.size(); i = next.getAndIncrement()) {
                        Doc d = docs.get(i);
                        XdmNode tree = builder.build(new StreamSource(new ByteArrayInputStream(d.bytes), new File(d.path).toURI().toString()));
                        found.clear();
                        for (XsltExecutable x : d.xslts) {
                            Xslt30Transformer tr = x.load30();
                            tr.setGlobalContextItem(tree);  // as KoSIT's XsltTransformer.setSource does
                            XdmDestination svrl = new XdmDestination();
                            tr.applyTemplates(tree, svrl);
                            collect(svrl.getXdmNode(), found);
                        }
                        boolean error = false;
                        for (String[] m : found) {
                            if ("fatal".equals(m[1]) || "error".equals(m[1])) { error = true; break; }
                        }
                        if (error) docsWithErrors.incrementAndGet();
                        messages.addAndGet(found.size());
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            pool[t].start();
        }
        for (Thread t : pool) t.join();
        if (!failures.isEmpty()) throw new RuntimeException(failures.get(0));
        return new long[] {docsWithErrors.get(), messages.get()};
    }

    /** failed-assert and successful-report children of svrl:schematron-output: {id, flag, location, text}. */
    static void collect(XdmNode svrlDoc, List<String[]> found) {
        XdmSequenceIterator<XdmNode> top = svrlDoc.axisIterator(Axis.CHILD);
        while (top.hasNext()) {
            XdmNode root = top.next();
            if (root.getNodeKind() != XdmNodeKind.ELEMENT) continue;
            XdmSequenceIterator<XdmNode> it = root.axisIterator(Axis.CHILD);
            while (it.hasNext()) {
                XdmNode n = it.next();
                if (n.getNodeKind() != XdmNodeKind.ELEMENT || !SVRL.equals(n.getNodeName().getNamespaceURI())) continue;
                String local = n.getNodeName().getLocalName();
                if (local.equals("failed-assert") || local.equals("successful-report")) {
                    found.add(new String[] {n.getAttributeValue(ID), n.getAttributeValue(FLAG),
                                            n.getAttributeValue(LOCATION), n.getStringValue().trim()});
                }
            }
        }
    }
}
