use tympan_core::evaluation::{stratified_split, train_and_score};
use tympan_core::model::TrainConfig;
use tympan_core::table::read_table;
fn main() {
    let t = read_table(std::path::Path::new("/tmp/d/ref_data.csv")).unwrap();
    let rows = t.rows;
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    let (tr, te) = stratified_split(&targets, 0.2, 42);
    let rows16: Vec<_> = rows.iter().map(|r| { let mut r = r.clone(); r.vector.truncate(16); r }).collect();
    for tol in [1e-4, 1e-3, 1e-2, 0.1, 1.0] {
        for iters in [50u64, 100, 200] {
            let c = TrainConfig { alpha: 10.0, max_iterations: iters, gradient_tolerance: tol };
            let s = std::time::Instant::now();
            let m = train_and_score(&rows, &tr, &te, &c).unwrap();
            let el = s.elapsed();
            let s2 = std::time::Instant::now();
            let _ = tympan_core::model::train(&rows16[..2500], &c, None, "").unwrap();
            println!("tol {tol} iters {iters}: acc64 {:.4} in {:?}; 2500x16 in {:?}", m.accuracy, el, s2.elapsed());
        }
    }
}
