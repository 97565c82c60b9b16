//! Embeds the same passages with Podwise's e5 engine and with the reference C engine that
//! ships with the model, one thread each, and prints their speed side by side with the
//! lowest cosine between the two engines' vectors.
//!
//! Run with `cargo bench -p podwise-llm --bench embeddings`. `PODWISE_MODEL_DIR` points at
//! the models (default `<workspace>/models`); `BENCH_ROUNDS` sets the rounds per engine
//! (default 5; the fastest round counts, as the machine is shared).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use podwise_llm::embeddings::{self, E5Small, Embedder, Purpose};

/// Podcast-style passages, Traditional Chinese and English, 100 to 400 characters.
const PASSAGES: &[&str] = &[
    "在這一集節目中，我們邀請到一位在新竹科學園區工作超過十五年的工\
     程師，聊聊台灣半導體產業\
     從八吋晶圓走到先進製程的歷程，以及他對年輕人投入硬體產業的建議\
     。他也分享了輪班生活如何\
     影響家庭，還有公司導入自動化之後工作內容的改變。",
    "This week we sit down with a marine biologist who has spent a decade tracking humpback \
     whales along the Pacific coast. She explains how underwater microphones pick up their \
     songs, why the songs change from year to year, and what shipping noise is doing to the \
     animals' ability to find each other.",
    "主持人今天分享她第一次獨自到花蓮騎單車環島的經驗：出發前怎麼規\
     劃路線、在蘇花公路遇到大\
     雨時如何應變，以及沿途住過的民宿和吃過的小吃。最後她也提醒聽眾\
     ，夏天騎車一定要注意防曬\
     與補充水分，並且出發前檢查煞車和輪胎，遇到颱風警報時千萬不要勉\
     強上路。",
    "Our guest, a former restaurant owner, walks through the numbers behind running a small\
      café: rent, staff, coffee beans and the cost of wasted milk. He argues that most new \
     cafés fail not because of bad coffee but because owners underestimate how long it take\
     s for a neighbourhood to trust a new place.",
    "本集討論人工智慧在醫療影像的應用。來賓是一位放射科醫師，她說明\
     深度學習模型如何協助判讀\
     胸部X光片，也坦白指出資料偏差、隱私保護與醫療責任歸屬等問題仍然\
     沒有解決，醫師和工程師\
     需要更多合作。她也提到，病人應該有權知道自己的影像是否被用來訓\
     練模型，而醫院在導入新工\
     具之前，必須先在本地的資料上重新驗證它的準確度。",
    "In today's episode we answer listener questions about personal finance in your \
     twenties: whether to pay off student loans or invest first, how large an emergency \
     fund should be, and why index funds beat most actively managed funds over long periods \
     once you account for fees and taxes.",
    "我們來聊聊台灣的夜市文化。從士林、饒河到台南的花園夜市，每個地\
     方都有自己的招牌小吃。來\
     賓是一位美食作家，他認為夜市之所以迷人，不只是因為便宜好吃，更\
     是因為那種人與人之間很近\
     的距離感。節目最後，他推薦了三家自己每個月都會回去的攤位，也聊\
     到近年觀光客增加之後，攤\
     商在價格與口味之間如何取捨。",
    "A historian joins us to talk about the printing press and how it changed Europe in the \
     fifteenth century. Cheap books spread new ideas about religion and science faster than \
     any authority could control, and she draws careful parallels with social media without \
     pretending the two are the same.",
    "這一集是關於睡眠的科學。來賓是一位神經科學研究者，他解釋深層睡\
     眠與快速動眼期各自對記憶\
     的作用，說明為什麼睡前滑手機會讓人更難入睡，也給了幾個簡單可行\
     的方法，幫助經常加班的上\
     班族改善睡眠品質，例如固定起床時間、午後少喝咖啡，以及把臥室的\
     溫度和光線調整到適合入睡\
     的狀態。",
    "We talk with two indie game developers who shipped their first title after four years \
     of nights and weekends. They cover choosing an engine, the marketing mistakes they \
     made on launch week, and why they think small teams should finish a tiny game before \
     attempting their dream project.",
    "今天的來賓是一位國小老師，她在偏鄉學校服務了八年。她分享如何用\
     桌遊和戶外課程引起孩子的\
     學習興趣，也談到城鄉教育資源的落差，以及網路課程在疫情期間帶來\
     的機會與限制。她說，很多\
     孩子家裡沒有穩定的網路，也沒有安靜的讀書空間，學校只好把平板借\
     回家，老師再一個一個打電\
     話關心進度。",
    "This episode explains how vaccines train the immune system, from the first smallpox \
     experiments to modern mRNA technology. Our guest, an immunologist, describes what \
     happens in the body after an injection and why booster doses are sometimes needed as \
     antibodies fade over time.",
    "在這集節目裡，我們討論都市裡的老屋改造。建築師來賓帶我們看台北\
     幾棟超過五十年的公寓，說\
     明結構補強、採光與通風的設計，還有住戶之間如何協調費用。她認為\
     保留老房子，也是在保存城\
     市的記憶。不過她也承認，老屋改造的成本常常比新建還高，若沒有政\
     府補助與專業團隊協助，一\
     般家庭很難獨力完成。",
    "A climate scientist explains why global average temperature is only part of the story: \
     heatwaves, heavy rainfall and droughts are becoming more frequent in ways that matter \
     more to farmers and cities than a single number. She also describes how attribution \
     studies link individual events to warming.",
    "本週我們邀請一位職業馬拉松跑者，談談她如何從上班族轉為全職運動\
     員。她分享每週的訓練菜單\
     、飲食調整，以及受傷時如何面對心理壓力。她也給第一次報名全馬的\
     聽眾一些實用的配速建議：\
     前半程一定要比想像中慢，補給站每一站都要喝水，最後十公里才是真\
     正的比賽。",
    "We look back at the history of the internet, from a small research network connecting \
     a handful of universities to the system billions of people rely on today. Our guest \
     explains packet switching in plain language and why the early designers cared so much \
     about networks that survive failures.",
];

fn model_dir() -> PathBuf {
    std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    )
}

/// Builds the reference engine with the project's driver into the target's temp dir.
fn build_reference() -> PathBuf {
    let reference = model_dir().join("embeddings/multilingual-e5-small/reference");
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e5_embed_bench");
    let status = Command::new("gcc")
        .args(["-O3", "-mavx2", "-mfma", "-mf16c", "-fopenmp", "-w", "-I"])
        .arg(&reference)
        .arg(reference.join("e5.c"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/e5_embed.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-lm")
        .status()
        .expect("gcc runs");
    assert!(
        status.success(),
        "gcc could not build the reference engine: run scripts/fetch-models.sh"
    );
    exe
}

/// One reference run over all passages: its vectors and its own embedding time.
fn run_reference(exe: &Path, model: &Path) -> (Vec<Vec<f32>>, f64) {
    let mut child = Command::new(exe)
        .arg(model)
        .arg("passage")
        .env("OMP_NUM_THREADS", "1")
        .env("OMP_WAIT_POLICY", "passive")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the reference engine starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    for p in PASSAGES {
        writeln!(stdin, "{p}").expect("the reference engine reads its input");
    }
    drop(stdin);
    let out = child
        .wait_with_output()
        .expect("the reference engine finishes");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seconds = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("embed_seconds ")?.trim().parse().ok())
        .expect("the driver reports its embedding time");
    let vectors = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split(' ').map(|v| v.parse().expect("a float")).collect())
        .collect();
    (vectors, seconds)
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = model_dir();
    let file = dir.join("embeddings/multilingual-e5-small/e5-small-q4.bin");
    let ours = E5Small::load(&dir, 1).expect("the model loads: run scripts/fetch-models.sh");
    let exe = build_reference();

    let tokens: usize = PASSAGES
        .iter()
        .map(|p| ours.token_ids(p, Purpose::Passage).len())
        .sum();
    let chars: Vec<usize> = PASSAGES.iter().map(|p| p.chars().count()).collect();
    println!(
        "{} passages, {}..{} characters, {} tokens in all",
        PASSAGES.len(),
        chars.iter().min().unwrap_or(&0),
        chars.iter().max().unwrap_or(&0),
        tokens
    );

    let mut ours_best = f64::INFINITY;
    let mut theirs_best = f64::INFINITY;
    let mut ours_vectors = Vec::new();
    let mut theirs_vectors = Vec::new();
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let embedded = ours
            .embed(PASSAGES, Purpose::Passage)
            .expect("passages fit");
        ours_best = ours_best.min(start.elapsed().as_secs_f64());
        ours_vectors = embedded.vectors;

        let (vectors, seconds) = run_reference(&exe, &file);
        theirs_best = theirs_best.min(seconds);
        theirs_vectors = vectors;
    }

    let min_cosine = ours_vectors
        .iter()
        .zip(&theirs_vectors)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
        .fold(f32::INFINITY, f32::min);
    let n = PASSAGES.len() as f64;
    let (ours_rate, theirs_rate) = (n / ours_best, n / theirs_best);
    println!(
        "{:<28} {:>12} {:>14}",
        "engine (1 thread)", "passages/s", "ms/passage"
    );
    println!(
        "{:<28} {ours_rate:>12.2} {:>14.2}",
        "podwise (Rust)",
        1e3 / ours_rate
    );
    println!(
        "{:<28} {theirs_rate:>12.2} {:>14.2}",
        "reference (e5.c)",
        1e3 / theirs_rate
    );
    println!("ratio podwise / reference: {:.3}", ours_rate / theirs_rate);
    println!("minimum cosine between the engines' vectors: {min_cosine:.6}");

    // MiniLM has no reference engine here; its speed is printed for comparison with e5.
    let minilm = embeddings::load(&dir, "all-MiniLM-L6-v2", 1).expect("MiniLM loads");
    let english: Vec<&str> = PASSAGES.iter().copied().filter(|p| p.is_ascii()).collect();
    let mut best = f64::INFINITY;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        minilm
            .embed(&english, Purpose::Passage)
            .expect("passages fit");
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "all-MiniLM-L6-v2 (f32, {} English passages): {:.2} passages/s",
        english.len(),
        english.len() as f64 / best
    );
}
